// Dataset inspection: one pass over the files on `threads` threads, each result stored in its
// sample's slot so the report (corrupt list, duplicate groups) comes out in dataset order.
#include "forensight/data/inspect.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <unordered_map>

#include "forensight/core/error.h"
#include "forensight/core/hash.h"
#include "forensight/data/image_decoder.h"

namespace forensight::data {
namespace {

struct FileResult {
  bool ok = false;
  std::string reason;
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;
  int height = 0;
  uint64_t hash = 0;
  bool has_hash = false;
};

FileResult inspect_file(const std::string& path) {
  FileResult r;
  try {
    std::vector<uint8_t> bytes = read_file_bytes(path);
    r.hash = fnv1a64(bytes);
    r.has_hash = true;
    ImageInfo info = read_image_info(bytes);
    DecodeOptions decode;
    decode.min_side_px = 1;  // smallest DCT scale: full entropy decode, 1/64 of the pixels
    decode_image(bytes, decode);
    r.format = info.format;
    r.width = info.width;
    r.height = info.height;
    r.ok = true;
  } catch (const DecodeError& e) {
    r.reason = e.what();
  }
  return r;
}

SideStats side_stats(std::vector<int> values) {
  SideStats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min_px = values.front();
  s.max_px = values.back();
  s.median_px = values[(values.size() - 1) / 2];  // lower median: always a size that occurs
  return s;
}

std::string label_name(int label) {
  if (label == kLabelReal) return "0 (real)";
  if (label == kLabelFake) return "1 (AI-generated)";
  if (label == kLabelUnknown) return "unlabelled";
  return std::to_string(label);
}

}  // namespace

InspectReport inspect_dataset(const Dataset& dataset, const InspectOptions& options) {
  FS_CHECK(options.threads >= 1, "threads must be >= 1, got {}", options.threads);
  const size_t n = dataset.samples.size();
  std::vector<FileResult> results(n);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) results[i] = inspect_file(dataset.samples[i].path);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < options.threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();

  InspectReport report;
  report.root = dataset.root;
  report.labelled = dataset.labelled;
  report.images = static_cast<int64_t>(n);
  std::vector<int> widths, heights;
  std::unordered_map<uint64_t, size_t> first_group;  // hash -> index into groups
  std::vector<std::vector<std::string>> groups;
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = dataset.samples[i];
    const FileResult& r = results[i];
    ++report.per_label[s.label];
    if (!s.source.empty()) ++report.per_source[s.source][s.label];
    if (r.has_hash) {
      auto [it, inserted] = first_group.emplace(r.hash, groups.size());
      if (inserted) groups.emplace_back();
      groups[it->second].push_back(s.path);
    }
    if (!r.ok) {
      report.corrupt.push_back({s.path, r.reason});
      continue;
    }
    ++report.readable;
    ++report.formats[format_name(r.format)];
    widths.push_back(r.width);
    heights.push_back(r.height);
  }
  for (auto& g : groups)
    if (g.size() > 1) report.duplicates.push_back(std::move(g));
  report.width = side_stats(std::move(widths));
  report.height = side_stats(std::move(heights));
  return report;
}

nlohmann::json InspectReport::to_json() const {
  nlohmann::json j;
  j["root"] = root;
  j["labelled"] = labelled;
  j["images"] = images;
  j["readable"] = readable;
  j["per_label"] = nlohmann::json::object();
  for (const auto& [label, count] : per_label) j["per_label"][std::to_string(label)] = count;
  j["per_source"] = nlohmann::json::object();
  for (const auto& [source, labels] : per_source)
    for (const auto& [label, count] : labels)
      j["per_source"][source][std::to_string(label)] = count;
  j["formats"] = formats;
  auto side = [](const SideStats& s) {
    return nlohmann::json{{"min", s.min_px}, {"median", s.median_px}, {"max", s.max_px}};
  };
  j["width_px"] = side(width);
  j["height_px"] = side(height);
  j["corrupt"] = nlohmann::json::array();
  for (const auto& c : corrupt) j["corrupt"].push_back({{"path", c.path}, {"reason", c.reason}});
  j["duplicates"] = duplicates;
  return j;
}

std::string InspectReport::to_table() const {
  std::string out = fmt::format("dataset   {}\nimages    {} listed, {} readable, {} corrupt\n",
                                root, images, readable, corrupt.size());
  out += "\nclass                 images\n";
  for (const auto& [label, count] : per_label)
    out += fmt::format("{:<20} {:>7}\n", label_name(label), count);
  if (!per_source.empty()) {
    // Sources are generator families and photograph sets: the names per-source metrics use.
    size_t width = 20;
    for (const auto& [source, labels] : per_source) width = std::max(width, source.size());
    out += fmt::format("\n{:<{}}    real    fake   other\n", "source", width);
    for (const auto& [source, labels] : per_source) {
      int64_t other = 0;
      for (const auto& [label, count] : labels)
        if (label != kLabelReal && label != kLabelFake) other += count;
      auto count_of = [&](int label) {
        auto it = labels.find(label);
        return it == labels.end() ? int64_t{0} : it->second;
      };
      out += fmt::format("{:<{}} {:>7} {:>7} {:>7}\n", source, width, count_of(kLabelReal),
                         count_of(kLabelFake), other);
    }
  }
  out += "\nformat                images\n";
  for (const auto& [format, count] : formats) out += fmt::format("{:<20} {:>7}\n", format, count);
  out += fmt::format("\nsize (px)       min  median     max\n");
  out +=
      fmt::format("width       {:>7} {:>7} {:>7}\n", width.min_px, width.median_px, width.max_px);
  out += fmt::format("height      {:>7} {:>7} {:>7}\n", height.min_px, height.median_px,
                     height.max_px);
  if (!corrupt.empty()) {
    out += fmt::format("\ncorrupt files ({})\n", corrupt.size());
    for (const auto& c : corrupt) out += fmt::format("  {}: {}\n", c.path, c.reason);
  }
  size_t duplicate_files = 0;
  for (const auto& g : duplicates) duplicate_files += g.size();
  out +=
      fmt::format("\nexact duplicates: {} groups, {} files\n", duplicates.size(), duplicate_files);
  for (const auto& g : duplicates) out += fmt::format("  {}\n", fmt::join(g, "  =  "));
  return out;
}

}  // namespace forensight::data
