// Dataset discovery: class folders (walked recursively, nearest class-named ancestor gives the
// label) or CSV manifests (Kaggle layout). Only paths and labels are read here, never pixels, so a
// 100k-image dataset lists in well under a second; bad image contents are the loader's business.
#include "forensight/data/dataset.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <string_view>

#include "forensight/core/error.h"
#include "forensight/data/csv_reader.h"

namespace forensight::data {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct ClassName {
  std::string_view name;
  int label;
};
constexpr std::array<ClassName, 7> kClassNames{{{"0_real", kLabelReal},
                                                {"real", kLabelReal},
                                                {"human", kLabelReal},
                                                {"nature", kLabelReal},
                                                {"1_fake", kLabelFake},
                                                {"fake", kLabelFake},
                                                {"ai", kLabelFake}}};
constexpr const char* kClassNamesHelp = "0_real/1_fake, real/fake, human/ai or nature/ai";

int class_label(const std::string& folder_name) {
  std::string name = lower(folder_name);
  for (const auto& c : kClassNames)
    if (name == c.name) return c.label;
  return kLabelUnknown;
}

// Files that are certainly not images; anything else is listed and judged by content at decode.
bool is_obvious_non_image(const fs::path& path) {
  static const std::array<std::string_view, 16> kSkip{
      ".txt", ".csv", ".json", ".jsonl", ".md",  ".db",  ".ini", ".yaml",
      ".yml", ".xml", ".html", ".py",    ".zip", ".tar", ".gz",  ".log"};
  std::string ext = lower(path.extension().string());
  return std::find(kSkip.begin(), kSkip.end(), ext) != kSkip.end();
}

bool is_hidden(const fs::path& path) {
  std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

Dataset load_folder_dataset(const fs::path& root) {
  Dataset dataset;
  dataset.root = root.string();
  dataset.labelled = true;
  int64_t unlabelled_files = 0;
  std::error_code ec;
  auto options = fs::directory_options::follow_directory_symlink |
                 fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(root, options, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (is_hidden(path)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || is_obvious_non_image(path)) continue;
    // The nearest class-named ancestor below the root gives the label; the first folder below the
    // root, when it is not itself a class folder, names the source (CNNDetection's per-generator
    // layout: root/<generator>/<category>/0_real/...).
    fs::path relative = path.lexically_relative(root);
    int label = kLabelUnknown;
    std::vector<std::string> parts;
    for (const auto& part : relative.parent_path()) parts.push_back(part.string());
    for (auto p = parts.rbegin(); p != parts.rend() && label == kLabelUnknown; ++p)
      label = class_label(*p);
    if (label == kLabelUnknown) {
      ++unlabelled_files;
      continue;
    }
    Sample sample;
    sample.path = path.string();
    sample.label = label;
    if (!parts.empty() && class_label(parts.front()) == kLabelUnknown)
      sample.source = parts.front();
    dataset.samples.push_back(std::move(sample));
  }
  if (ec) fail("cannot list folder '{}': {}", root.string(), ec.message());
  if (dataset.samples.empty())
    fail(
        "folder '{}' has no files under class folders: expected one subfolder per class named {} "
        "(any case, possibly nested)",
        root.string(), kClassNamesHelp);
  if (unlabelled_files > 0)
    spdlog::warn("{}: ignored {} files outside any class folder ({})", root.string(),
                 unlabelled_files, kClassNamesHelp);
  std::sort(dataset.samples.begin(), dataset.samples.end(),
            [](const Sample& a, const Sample& b) { return a.path < b.path; });
  bool has_real = false, has_fake = false;
  for (const auto& s : dataset.samples) (s.label == kLabelReal ? has_real : has_fake) = true;
  if (!has_real || !has_fake)
    spdlog::warn("{}: only {} images found ({} files)", root.string(),
                 has_real ? "real" : "AI-generated", dataset.samples.size());
  return dataset;
}

int parse_label(const std::string& value, const CsvTable& table, size_t row) {
  if (value == "0") return kLabelReal;
  if (value == "1") return kLabelFake;
  int label = class_label(value);
  if (label != kLabelUnknown) return label;
  fail("{}: bad label '{}': expected 0 (real) or 1 (AI-generated), or a class name {}",
       table.where(row), value, kClassNamesHelp);
}

Dataset load_csv_dataset(const fs::path& csv_path) {
  CsvTable table = read_csv(csv_path.string());
  Dataset dataset;
  dataset.root = csv_path.string();
  fs::path base = csv_path.parent_path();

  // Kaggle layout: train.csv has `file_name,label` (plus an unnamed index column); test.csv has
  // only `id`, the path of an image to predict.
  int path_col = table.column("file_name");
  int label_col = -1;
  if (path_col >= 0) {
    label_col = table.require_column("label");
  } else if (table.column("id") >= 0) {
    path_col = table.column("id");
    dataset.labelled = false;
  } else {
    table.require_column("file_name");  // throws, naming the column and the header found
  }
  int group_col = table.column("group");
  int source_col = table.column("source");

  dataset.samples.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    Sample sample;
    const std::string& file = row[path_col];
    if (file.empty())
      fail("{}: empty '{}' field: every row needs an image path", table.where(r),
           table.header[path_col]);
    fs::path path(file);
    sample.path = (path.is_absolute() ? path : (base / path)).lexically_normal().string();
    if (label_col >= 0) sample.label = parse_label(row[label_col], table, r);
    if (group_col >= 0) sample.group = row[group_col];
    if (source_col >= 0) sample.source = row[source_col];
    dataset.samples.push_back(std::move(sample));
  }
  if (dataset.samples.empty()) fail("{}: the manifest has a header but no rows", table.name);
  return dataset;
}

}  // namespace

Dataset load_dataset(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) return load_folder_dataset(p);
  if (fs::is_regular_file(p, ec)) {
    if (lower(p.extension().string()) == ".csv") return load_csv_dataset(p);
    fail(
        "'{}' is a file but not a .csv manifest: give a folder of class subfolders ({}) or a CSV "
        "with columns file_name,label (or id)",
        path, kClassNamesHelp);
  }
  fail("dataset path '{}' does not exist: give a folder of class subfolders ({}) or a CSV manifest",
       path, kClassNamesHelp);
}

}  // namespace forensight::data
