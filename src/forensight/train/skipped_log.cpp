#include "forensight/train/skipped_log.h"

#include <filesystem>

#include "forensight/core/error.h"

namespace forensight::train {
namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::string skipped_csv_line(const SkippedRow& row) {
  return fmt::format("{},{},{},{}\n", csv_field(row.path), csv_field(row.split), row.epoch,
                     csv_field(row.reason));
}

std::vector<SkippedRow> skipped_rows(const std::vector<data::SkippedFile>& files,
                                     const std::string& split, int64_t epoch) {
  std::vector<SkippedRow> rows;
  rows.reserve(files.size());
  for (const auto& f : files) rows.push_back({f.path, f.reason, split, epoch});
  return rows;
}

SkippedLog::SkippedLog(const std::string& path) : path_(path) {
  const bool is_new = !std::filesystem::exists(path);
  out_.open(path, std::ios::app);
  FS_CHECK(out_.good(), "cannot open '{}' to report skipped files", path);
  if (is_new) write("path,split,epoch,reason\n");
}

void SkippedLog::write(const std::string& csv_lines) {
  out_ << csv_lines;
  out_.flush();
  FS_CHECK(out_.good(), "cannot append to '{}' (disk full?): skipped files went unreported", path_);
}

}  // namespace forensight::train
