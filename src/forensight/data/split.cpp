// Split construction in three steps: samples become units (a group, or a lone sample), units are
// stratified by label, and each stratum is filled split by split from a seeded permutation. Quotas
// per stratum are apportioned split by split with caps, so counts are exact without groups.
#include "forensight/data/split.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>

#include "forensight/core/atomic_file.h"
#include "forensight/core/crc32.h"
#include "forensight/core/error.h"
#include "forensight/data/sampler.h"

namespace forensight::data {
namespace fs = std::filesystem;
namespace {

constexpr const char* kSpecHelp =
    "expected counts like 50000/15000/15000 or fractions like 0.8/0.1/0.1 (train[/val[/test]])";

std::vector<std::string> split_on(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return parts;
}

// Apportions `total` over strata in proportion to `weights`, each capped by `caps`; the sum of caps
// must be >= total. Floors first, then the largest remainders, then any stratum with room.
std::vector<int64_t> apportion(int64_t total, const std::vector<int64_t>& weights,
                               const std::vector<int64_t>& caps) {
  size_t k = weights.size();
  int64_t weight_sum = std::accumulate(weights.begin(), weights.end(), int64_t{0});
  std::vector<int64_t> out(k, 0);
  if (total <= 0 || weight_sum <= 0) return out;
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < k; ++i) {
    double quota = static_cast<double>(total) * weights[i] / weight_sum;
    out[i] = std::min(static_cast<int64_t>(std::floor(quota)), caps[i]);
    given += out[i];
    remainders.push_back({quota - std::floor(quota), i});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (int pass = 0; pass < 2 && given < total; ++pass) {
    for (const auto& [remainder, i] : remainders) {
      if (given >= total) break;
      int64_t room = caps[i] - out[i];
      int64_t add = pass == 0 ? std::min<int64_t>(room, 1) : std::min(room, total - given);
      out[i] += add;
      given += add;
    }
  }
  return out;
}

struct Unit {
  std::vector<int64_t> members;  // sample indices
  int label = kLabelUnknown;     // majority label of the members (ties: the lowest)
};

// The folder sample paths are saved relative to: the dataset folder, or a manifest's folder.
fs::path dataset_base(const Dataset& dataset) {
  fs::path root(dataset.root);
  std::string ext = root.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".csv" ? root.parent_path() : root;
}

// The CRC-32 of the JSON's compact serialisation (keys sorted, no whitespace): it checks the
// content, so the file's indentation may change but no index, path or seed.
std::string content_crc32(const nlohmann::json& j) {
  const std::string text = j.dump();
  return fmt::format(
      "{:08x}",
      crc32_update(kCrc32Initial, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
}

std::string relative_to(const std::string& path, const fs::path& base) {
  fs::path rel = fs::path(path).lexically_relative(base);
  if (rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  return rel.generic_string();
}

}  // namespace

SplitSpec parse_split_spec(const std::string& text) {
  SplitSpec spec;
  spec.text = text;
  auto parts = split_on(text, '/');
  if (text.empty() || parts.size() > 3) fail("bad split spec '{}': {}", text, kSpecHelp);
  spec.fractions = text.find('.') != std::string::npos;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    size_t used = 0;
    double value = 0;
    try {
      value = std::stod(p, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (p.empty() || used != p.size() || !std::isfinite(value) || value < 0 ||
        (!spec.fractions && value != std::floor(value)))
      fail("bad split spec '{}': part {} ('{}') is not a non-negative {}; {}", text, i + 1, p,
           spec.fractions ? "fraction" : "integer count", kSpecHelp);
    spec.parts[i] = value;
  }
  if (spec.fractions) {
    double sum = spec.parts[0] + spec.parts[1] + spec.parts[2];
    if (sum > 1.0 + 1e-9)
      fail("bad split spec '{}': fractions sum to {:.4g} > 1; {}", text, sum, kSpecHelp);
  }
  return spec;
}

std::array<int64_t, 3> split_counts(const SplitSpec& spec, int64_t size) {
  std::array<int64_t, 3> counts{};
  if (spec.fractions) {
    // Largest remainder over the three parts (plus the unused rest), so fractions summing to 1
    // use every sample.
    double sum = spec.parts[0] + spec.parts[1] + spec.parts[2];
    std::vector<int64_t> weights, caps(4, size);
    for (double p : spec.parts) weights.push_back(static_cast<int64_t>(std::llround(p * 1e9)));
    weights.push_back(static_cast<int64_t>(std::llround(std::max(0.0, 1.0 - sum) * 1e9)));
    auto out = apportion(size, weights, caps);
    for (int i = 0; i < 3; ++i) counts[i] = out[i];
    return counts;
  }
  int64_t total = 0;
  for (int i = 0; i < 3; ++i) total += counts[i] = static_cast<int64_t>(spec.parts[i]);
  if (total > size)
    fail(
        "split '{}' asks for {} samples but the dataset has {}: lower the counts (they may sum to "
        "at most {}) or give fractions such as 0.8/0.1/0.1",
        spec.text, total, size, size);
  return counts;
}

Split make_split(const Dataset& dataset, const SplitSpec& spec, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(dataset.size());
  auto counts = split_counts(spec, n);

  // Units: one per non-empty group (in order of first appearance), one per ungrouped sample.
  std::vector<Unit> units;
  std::map<std::string, size_t> group_unit;
  for (int64_t i = 0; i < n; ++i) {
    const Sample& s = dataset.samples[i];
    if (s.group.empty()) {
      units.push_back({{i}, s.label});
      continue;
    }
    auto [it, added] = group_unit.try_emplace(s.group, units.size());
    if (added) units.push_back({});
    units[it->second].members.push_back(i);
  }
  for (auto& u : units) {
    if (u.members.size() == 1) {
      u.label = dataset.samples[u.members[0]].label;
      continue;
    }
    std::map<int, int64_t> votes;
    for (int64_t m : u.members) ++votes[dataset.samples[m].label];
    u.label = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) {
                return a.second < b.second;
              })->first;
  }

  // Strata by label, each a seeded permutation of its units.
  std::map<int, std::vector<size_t>> strata_map;
  for (size_t u = 0; u < units.size(); ++u) strata_map[units[u].label].push_back(u);
  std::vector<std::vector<size_t>> strata;
  std::vector<int64_t> stratum_size;
  for (auto& [label, members] : strata_map) {
    auto order = permutation(static_cast<int64_t>(members.size()),
                             mix_seed(seed, static_cast<uint64_t>(label + 1)));
    std::vector<size_t> shuffled;
    int64_t samples = 0;
    for (int64_t o : order) {
      shuffled.push_back(members[o]);
      samples += static_cast<int64_t>(units[members[o]].members.size());
    }
    strata.push_back(std::move(shuffled));
    stratum_size.push_back(samples);
  }

  // Quotas per (split, stratum): each split's count spread over strata in proportion to their
  // sizes, capped by what earlier splits left in each stratum.
  std::vector<int64_t> remaining = stratum_size;
  std::array<std::vector<int64_t>, 3> quota;
  for (int s = 0; s < 3; ++s) {
    quota[s] = apportion(counts[s], stratum_size, remaining);
    for (size_t k = 0; k < strata.size(); ++k) remaining[k] -= quota[s][k];
  }

  Split split;
  split.spec = spec.text;
  split.seed = seed;
  for (size_t k = 0; k < strata.size(); ++k) {
    // Fill train, then val, then test from the stratum's permuted units. A whole group goes to the
    // split that still needs samples; with groups a split may overshoot by part of one group.
    int s = 0;
    int64_t need = quota[0][k];
    for (size_t u : strata[k]) {
      while (s < 3 && need <= 0) {
        ++s;
        if (s < 3) need += quota[s][k];  // carry an overshoot into the next split's need
      }
      if (s >= 3) break;
      for (int64_t m : units[u].members) split.indices[s].push_back(m);
      need -= static_cast<int64_t>(units[u].members.size());
    }
  }
  for (auto& part : split.indices) std::sort(part.begin(), part.end());
  return split;
}

void save_split(const Split& split, const Dataset& dataset, const std::string& path) {
  nlohmann::json j;
  j["format"] = "forensight-split";
  j["version"] = 1;
  j["spec"] = split.spec;
  j["seed"] = split.seed;
  j["dataset_root"] = dataset.root;
  j["dataset_size"] = dataset.size();
  const fs::path base = dataset_base(dataset);
  for (int s = 0; s < 3; ++s) {
    nlohmann::json paths = nlohmann::json::array();
    for (int64_t i : split.indices[s]) {
      FS_CHECK(i >= 0 && i < static_cast<int64_t>(dataset.size()),
               "split index {} out of range for a dataset of {} samples", i, dataset.size());
      paths.push_back(relative_to(dataset.samples[i].path, base));
    }
    j["splits"][kSplitNames[s]] = {{"indices", split.indices[s]}, {"paths", paths}};
  }
  j["crc32"] = content_crc32(j);
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  write_file_atomic(target, j.dump(1) + "\n");
}

namespace {

// An integer field of a split file. json's get<int64_t>() converts a float such as 1e300 with a
// plain cast, which is undefined behaviour out of range (found by fuzz/fuzz_split.cpp): a number
// that is not an integer is refused like a missing field.
template <typename T>
T integer_field(const nlohmann::json& value, const char* what) {
  if (!value.is_number_integer())
    throw nlohmann::json::type_error::create(302, fmt::format("{} must be an integer", what),
                                             &value);
  return value.get<T>();
}

std::vector<int64_t> integer_list(const nlohmann::json& value, const char* what) {
  std::vector<int64_t> out;
  if (!value.is_array())
    throw nlohmann::json::type_error::create(302, fmt::format("{} must be a list", what), &value);
  out.reserve(value.size());
  for (const auto& item : value) out.push_back(integer_field<int64_t>(item, what));
  return out;
}

}  // namespace

Split load_split(const std::string& path, const Dataset& dataset) {
  std::ifstream in(path);
  if (!in) fail("cannot open split file '{}'", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("split file '{}' is not valid JSON (cut short or corrupt): {}", path, e.what());
  }
  // json::value() throws json's type_error when the field holds another type ("format": null),
  // and converts a float version such as 1e20 to int with undefined behaviour: such a file is
  // refused as not ours, like a wrong format (both found by fuzz/fuzz_split.cpp).
  if (j.is_object() && ((j.contains("format") && !j["format"].is_string()) ||
                        (j.contains("version") && !j["version"].is_number_integer())))
    fail("'{}' is not a forensight split file (format forensight-split, version 1)", path);
  if (!j.is_object() || j.value("format", "") != "forensight-split" || j.value("version", 0) != 1)
    fail("'{}' is not a forensight split file (format forensight-split, version 1)", path);
  if (!j.contains("crc32")) {
    spdlog::warn(
        "split file '{}' predates checksums: read unchecked (its paths are still compared with "
        "the dataset's one by one)",
        path);
  } else {
    const std::string saved = j["crc32"].is_string() ? j["crc32"].get<std::string>() : "";
    j.erase("crc32");
    const std::string actual = content_crc32(j);
    if (saved != actual)
      fail(
          "split file '{}' is corrupt: the CRC-32 of its content is {}, the file says '{}' (a "
          "flipped bit or an edit); restore it, or start a new run directory for a new split",
          path, actual, saved);
  }
  Split split;
  try {
    split.spec = j.at("spec").get<std::string>();
    split.seed = integer_field<uint64_t>(j.at("seed"), "seed");
    auto size = integer_field<int64_t>(j.at("dataset_size"), "dataset_size");
    if (size != static_cast<int64_t>(dataset.size()))
      fail(
          "split '{}' was made for a dataset of {} samples but '{}' has {}: the data changed; "
          "make a new split (new run directory) or restore the data",
          path, size, dataset.root, dataset.size());
    const fs::path base = dataset_base(dataset);
    for (int s = 0; s < 3; ++s) {
      const auto& part = j.at("splits").at(kSplitNames[s]);
      auto indices = integer_list(part.at("indices"), "indices");
      auto paths = part.at("paths").get<std::vector<std::string>>();
      if (indices.size() != paths.size())
        fail("split '{}': {} has {} indices but {} paths", path, kSplitNames[s], indices.size(),
             paths.size());
      for (size_t i = 0; i < indices.size(); ++i) {
        int64_t index = indices[i];
        if (index < 0 || index >= size)
          fail("split '{}': {} index {} is out of range [0, {})", path, kSplitNames[s], index,
               size);
        std::string expected = relative_to(dataset.samples[index].path, base);
        if (expected != paths[i])
          fail(
              "split '{}' does not match dataset '{}': {} sample {} was '{}' but is now '{}'; "
              "the data changed — make a new split or restore the data",
              path, dataset.root, kSplitNames[s], index, paths[i], expected);
      }
      split.indices[s] = std::move(indices);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("split file '{}' is missing a field: {}", path, e.what());
  }
  return split;
}

nlohmann::json split_fingerprint(const Split& split, const Dataset& dataset) {
  auto add = [](uint32_t crc, const std::string& text) {
    return crc32_update(crc, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  };
  const fs::path base = dataset_base(dataset);
  uint32_t samples = kCrc32Initial;
  for (const Sample& s : dataset.samples)
    samples = add(samples, fmt::format("{}\t{}\t{}\t{}\n", relative_to(s.path, base), s.label,
                                       s.group, s.source));
  nlohmann::json j = {{"samples", dataset.size()},
                      {"samples_crc32", fmt::format("{:08x}", samples)},
                      {"labelled", dataset.labelled}};
  for (size_t s = 0; s < kSplitNames.size(); ++s) {
    const std::vector<int64_t>& indices = split.indices[s];
    const uint32_t crc = crc32_update(
        kCrc32Initial, {reinterpret_cast<const uint8_t*>(indices.data()), indices.size() * 8});
    j[fmt::format("{}_size", kSplitNames[s])] = indices.size();
    j[fmt::format("{}_crc32", kSplitNames[s])] = fmt::format("{:08x}", crc);
  }
  return j;
}

}  // namespace forensight::data
