#include "forensight/parallel/run_fingerprint.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "forensight/core/crc32.h"
#include "forensight/core/error.h"

namespace forensight::parallel {
namespace {

constexpr size_t kDifferencesShown = 3;  // per part; the rest are counted

// A value as a person reads it in a message: strings quoted, everything else as JSON.
std::string shown(const nlohmann::json& value) {
  if (value.is_string()) return fmt::format("'{}'", value.get<std::string>());
  return value.dump();
}

// "lr: 0.05 on rank 0, 0.1 on rank 2" for each key whose value differs (keys in sorted order, a
// missing key shown as absent), the first kDifferencesShown of them, then how many more.
std::string part_differences(const nlohmann::json& reference, const nlohmann::json& other,
                             int rank) {
  std::set<std::string> keys;
  for (auto it = reference.begin(); it != reference.end(); ++it) keys.insert(it.key());
  for (auto it = other.begin(); it != other.end(); ++it) keys.insert(it.key());
  std::vector<std::string> shown_differences;
  size_t count = 0;
  for (const std::string& key : keys) {
    const bool in_reference = reference.contains(key), in_other = other.contains(key);
    if (in_reference && in_other && reference.at(key) == other.at(key)) continue;
    if (++count > kDifferencesShown) continue;
    shown_differences.push_back(fmt::format("{}: {} on rank 0, {} on rank {}", key,
                                            in_reference ? shown(reference.at(key)) : "absent",
                                            in_other ? shown(other.at(key)) : "absent", rank));
  }
  if (count == 0) return "";
  std::string text = fmt::format("{}", fmt::join(shown_differences, "; "));
  if (count > kDifferencesShown) text += fmt::format("; and {} more", count - kDifferencesShown);
  return text;
}

std::string crc32_hex(uint32_t crc) {
  return fmt::format("{:08x}", crc);
}

}  // namespace

std::string RunFingerprint::to_string() const {
  return nlohmann::json{{"config", config}, {"model", model}, {"dataset", dataset}}.dump();
}

RunFingerprint RunFingerprint::from_string(const std::string& text, int rank) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    RunFingerprint fingerprint;
    fingerprint.config = j.at("config");
    fingerprint.model = j.at("model");
    fingerprint.dataset = j.at("dataset");
    FS_CHECK(fingerprint.config.is_object() && fingerprint.model.is_object() &&
                 fingerprint.dataset.is_object(),
             "its parts are not JSON objects");
    return fingerprint;
  } catch (const std::exception& e) {
    fail(
        "rank {} sent a run fingerprint this rank cannot read ({}): are all ranks running the "
        "same build of Forensight?",
        rank, e.what());
  }
}

nlohmann::json model_fingerprint(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  uint32_t layout = kCrc32Initial, weights = kCrc32Initial;
  int64_t tensors = 0, values = 0;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    const std::string description = fmt::format(
        "{} {} {};", name, c10::toString(tensor.scalar_type()), fmt::join(tensor.sizes(), "x"));
    layout = crc32_update(
        layout, {reinterpret_cast<const uint8_t*>(description.data()), description.size()});
    // Channels-last weights hash in their logical (contiguous) order, as on any other rank.
    const torch::Tensor bytes = tensor.detach().to(torch::kCPU).contiguous();
    weights =
        crc32_update(weights, {static_cast<const uint8_t*>(bytes.data_ptr()), bytes.nbytes()});
    ++tensors;
    values += tensor.numel();
  };
  for (const auto& item : model.named_parameters()) add(item.key(), item.value());
  for (const auto& item : model.named_buffers()) add(item.key(), item.value());
  return {{"tensors", tensors},
          {"values", values},
          {"layout_crc32", crc32_hex(layout)},
          {"weights_crc32", crc32_hex(weights)}};
}

std::vector<std::string> fingerprint_differences(const std::vector<RunFingerprint>& by_rank) {
  std::vector<std::string> sentences;
  for (size_t r = 1; r < by_rank.size(); ++r) {
    const int rank = static_cast<int>(r);
    std::vector<std::string> parts;
    const std::pair<const char*, std::string> compared[] = {
        {"config", part_differences(by_rank[0].config, by_rank[r].config, rank)},
        {"model", part_differences(by_rank[0].model, by_rank[r].model, rank)},
        {"dataset", part_differences(by_rank[0].dataset, by_rank[r].dataset, rank)}};
    for (const auto& [part, differences] : compared)
      if (!differences.empty()) parts.push_back(fmt::format("{} ({})", part, differences));
    if (!parts.empty())
      sentences.push_back(fmt::format("rank {} differs from rank 0 in its {}", rank,
                                      fmt::join(parts, " and its ")));
  }
  return sentences;
}

}  // namespace forensight::parallel
