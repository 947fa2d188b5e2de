// Evaluation of a detector on a labelled set: metrics, per-source rows, a ROC plot and the
// robustness sweep (the same images re-evaluated under JPEG re-compression, blur and downscaling),
// written as report.json + report.md.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "forensight/data/dataset.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/inference.h"
#include "forensight/eval/metrics.h"

namespace forensight::parallel {
class Distribution;
}

namespace forensight::eval {

// Loss, accuracy and ROC-AUC of an inference pass: the validation record of an epoch.
nlohmann::json summarize(const InferenceResult& inference, double threshold = 0.5);

struct EvaluateOptions {
  double threshold = 0.5;  // P(AI-generated) at or above = AI-generated
  int batch_size = 64;
  int workers = 2;
  std::vector<int> jpeg_qualities;  // robustness: re-compress at each quality
  std::vector<double> blur_sigmas;  // robustness: Gaussian blur of each sigma (pixels)
  std::vector<double> downscales;   // robustness: downscale by each factor in (0, 1)
  std::string report_dir;           // where report.json/.md and roc.png go ("" = none)
  std::string title = "Evaluation";
  // Under a launcher: each rank evaluates its shard and every rank gets the merged, single-process
  // result; only the main rank writes the report. Null = one process.
  parallel::Distribution* distribution = nullptr;
};

// Evaluates `detector` on dataset.samples[indices] (all when empty); returns the report's JSON.
nlohmann::json evaluate(Detector& detector, const data::Dataset& dataset,
                        const std::vector<int64_t>& indices, const EvaluateOptions& options);

// The metrics of `source`'s images against the evaluation's images of the class(es) that source
// lacks: a generator family's fakes against every real image, a real source's images against every
// fake. The held-out figure of a leave-one-out run. Throws Error when no image of `source` or of
// the other class was evaluated.
Metrics source_against_other_class(const InferenceResult& inference, const data::Dataset& dataset,
                                   const std::string& source, double threshold = 0.5);

// The trainer's final report from an inference pass it already ran. held_out_source: the source a
// leave-one-out run kept out of training ("" = none), reported on its own (report.json's
// "held_out", also in the returned metrics).
nlohmann::json write_evaluation_report(const InferenceResult& inference,
                                       const data::Dataset& dataset, const std::string& folder,
                                       const std::string& split_name, const std::string& checkpoint,
                                       const std::string& held_out_source = "");

}  // namespace forensight::eval
