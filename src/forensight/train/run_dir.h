// The run directory: everything about one training run in one folder — resolved config, split,
// metrics (JSON lines), checkpoints and the final report. `--resume DIR` reads it back.
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace forensight::train {

class RunDir {
 public:
  explicit RunDir(std::string path);  // creates the folder (and checkpoints/) if missing

  const std::string& path() const { return path_; }
  std::string config_path() const { return path_ + "/config.json"; }
  std::string split_path() const { return path_ + "/split.json"; }
  std::string metrics_path() const { return path_ + "/metrics.jsonl"; }
  std::string skipped_path() const { return path_ + "/skipped.csv"; }  // train/skipped_log.h
  std::string report_json_path() const { return path_ + "/report.json"; }
  std::string report_markdown_path() const { return path_ + "/report.md"; }
  // name: last, previous (the `last` before it), best, epoch-3, ...
  std::string checkpoint_path(const std::string& name) const;
  // Removes the temporary files of checkpoint writes that a killed process left in checkpoints/
  // (core/atomic_file names them .NAME.tmp.PID.N); returns how many. Call only when no other
  // process writes to this run directory.
  int remove_stale_temporaries() const;

 private:
  std::string path_;
};

// Appends one JSON object per line and flushes, so a killed run keeps every record it wrote.
class MetricsLog {
 public:
  // truncate_after_step >= 0: on resume, drop records of steps after the checkpoint's step so the
  // log reads as one uninterrupted run.
  explicit MetricsLog(const std::string& path, int64_t truncate_after_step = -1);
  // Throws Error naming the file when the record cannot be written (a full disk).
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace forensight::train
