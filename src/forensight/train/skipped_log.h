// skipped.csv in the run directory: every input file a run could not use, with the reason, the
// split it belonged to and the epoch (0-based, as in metrics.jsonl) it was met in — so a dataset
// with bad files still trains, and the bad files can be found and fixed afterwards.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "forensight/data/loader.h"

namespace forensight::train {

struct SkippedRow {
  std::string path;
  std::string reason;
  std::string split;  // train, val or test
  int64_t epoch = 0;
};

// Appends lines (a header first when the file is new) and flushes each call's, so a killed run
// keeps what it reported; a failed write (full disk) throws Error naming the file.
class SkippedLog {
 public:
  explicit SkippedLog(const std::string& path);
  // `csv_lines`: skipped_csv_line()s, possibly gathered from every rank.
  void write(const std::string& csv_lines);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// One CSV line (RFC 4180 quoting: fields with a comma, quote or line break are quoted).
std::string skipped_csv_line(const SkippedRow& row);
// `files` tagged with their split and epoch.
std::vector<SkippedRow> skipped_rows(const std::vector<data::SkippedFile>& files,
                                     const std::string& split, int64_t epoch);

}  // namespace forensight::train
