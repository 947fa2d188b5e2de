// An evaluation written for people and for programs: the same content as JSON (report.json, for
// scripts and later comparison) and as Markdown tables (report.md, for docs/RESULTS.md and review).
// Both files are written atomically so a crash never leaves half a report in a run directory.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "forensight/eval/metrics.h"

namespace forensight::eval {

// One degraded copy of the evaluation set (JPEG re-compression, blur, resize...) against clean.
struct RobustnessRow {
  std::string degradation;   // e.g. "jpeg q=50"
  double accuracy = 0;       // at the report's threshold
  double roc_auc = 0;        // NaN when undefined
  double accuracy_drop = 0;  // clean accuracy minus this accuracy (positive = worse)
  double roc_auc_drop = 0;   // clean AUC minus this AUC
  // Every source under this degradation (empty when the evaluation had no sources): what a
  // leave-one-out run needs, since the whole test split mixes the unseen family with seen ones.
  std::vector<SourceMetrics> sources;
};

// The row for `degraded`, measured against `clean`.
RobustnessRow robustness_row(std::string degradation, const Metrics& degraded,
                             const Metrics& clean);

struct EvaluationReport {
  std::string title = "Evaluation";
  std::string model;                      // checkpoint or preset name; omitted when empty
  std::string dataset;                    // evaluation set description; omitted when empty
  Metrics metrics;                        // per-source rows come from metrics.sources
  std::vector<RobustnessRow> robustness;  // empty: no robustness table
  std::string roc_plot_file;  // a PNG next to the report, linked from the Markdown when set
  // Leave-one-out runs (train --hold-out-source): the source kept out of training ("" = none) and
  // its images judged against the evaluation's images of the class it lacks (its fakes against
  // every real test image, for a generator family).
  std::string held_out_source;
  Metrics held_out;
};

nlohmann::json to_json(const EvaluationReport& report);
nlohmann::json to_json(const RobustnessRow& row);
std::string to_markdown(const EvaluationReport& report);

// Writes `folder`/report.json and `folder`/report.md (atomically each); the folder must exist.
void write_report(const EvaluationReport& report, const std::filesystem::path& folder);

}  // namespace forensight::eval
