// Binary detection metrics for scores P(AI-generated) against labels (0 = real, 1 = AI-generated),
// torch-free so that any caller (trainer, eval command, server, tests) can use them. Definitions
// follow scikit-learn (roc_auc_score, average_precision_score, roc_curve) and are checked against
// it in tests/eval/metrics_reference_test.cpp; undefined values are NaN with a note, never a crash.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace forensight::eval {

struct MetricsOptions {
  double threshold = 0.5;  // a score >= threshold is predicted AI-generated; in [0, 1]
  bool keep_roc = true;    // keep every ROC point in Metrics::roc (one per distinct score)
};

struct ConfusionMatrix {
  int64_t true_negatives = 0;   // real predicted real
  int64_t false_positives = 0;  // real predicted AI-generated
  int64_t false_negatives = 0;  // AI-generated predicted real
  int64_t true_positives = 0;   // AI-generated predicted AI-generated
};

// One point of the ROC curve: predicting AI-generated for score >= threshold gives this FPR/TPR.
// The first point is (0, 0) at threshold +inf, as in sklearn's roc_curve.
struct RocPoint {
  double false_positive_rate = 0;
  double true_positive_rate = 0;
  double threshold = 0;
};

// One source (generator or real-image origin) of the evaluated images.
struct SourceMetrics {
  std::string source;
  int64_t count = 0;
  int64_t count_real = 0;
  int64_t count_fake = 0;
  double accuracy = 0;  // at the threshold of the whole evaluation
  // AUC of this source's images against every real image of the evaluation; only for a generator
  // (a source whose images are all AI-generated) when real images exist, NaN otherwise.
  double roc_auc_vs_real = 0;
  // The same pooled set (this generator's images and every real one) judged at the threshold, and
  // its average precision: with the AUC, the cell of a leave-one-family-out matrix (issue #17).
  double accuracy_vs_real = 0;
  double average_precision_vs_real = 0;
};

struct Metrics {
  int64_t count = 0;
  int64_t count_real = 0;
  int64_t count_fake = 0;
  double threshold = 0.5;
  ConfusionMatrix confusion;
  double accuracy = 0;
  double precision = 0;  // positive = AI-generated; 0 when nothing is predicted AI-generated
  double recall = 0;     // 0 when there is no AI-generated image
  double f1 = 0;         // F1 of the AI-generated class: 2tp / (2tp + fp + fn), 0 when undefined
  double f1_real = 0;    // F1 of the real class
  double macro_f1 = 0;   // mean of f1 and f1_real (the Kaggle competition's metric)
  double accuracy_real = 0;      // fraction of real images predicted real (NaN without real images)
  double accuracy_fake = 0;      // fraction of AI-generated images caught (NaN without any)
  double roc_auc = 0;            // NaN unless both classes are present
  double average_precision = 0;  // NaN unless both classes are present
  double equal_error_rate = 0;   // FPR = FNR, linearly interpolated on the ROC; NaN likewise
  double best_threshold = 0;     // the threshold that maximises accuracy on these scores
  double best_accuracy = 0;      // the accuracy at best_threshold
  std::vector<RocPoint> roc;
  std::vector<SourceMetrics> sources;  // sorted by name; empty unless sources were given
  std::vector<std::string> notes;      // why a value is NaN, and similar caveats
};

// scores[i] in [0, 1], labels[i] in {0, 1}; `sources` is empty or one name per score. Throws Error
// on mismatched lengths, a score outside [0, 1] or NaN, or a label other than 0/1.
Metrics compute_metrics(std::span<const double> scores, std::span<const int> labels,
                        const MetricsOptions& options = {},
                        std::span<const std::string> sources = {});

// The single-number pieces, for callers that need only one (same validation, NaN when undefined).
double roc_auc(std::span<const double> scores, std::span<const int> labels);
double average_precision(std::span<const double> scores, std::span<const int> labels);
std::vector<RocPoint> roc_curve(std::span<const double> scores, std::span<const int> labels);
// EER on a ROC curve as roc_curve returns it (starting at (0, 0), ending at (1, 1)).
double equal_error_rate(std::span<const RocPoint> roc);

// A metric for JSON: NaN and infinity (an undefined metric) become null, which JSON can hold.
nlohmann::json number_or_null(double value);

// NaN and infinity become null. The ROC becomes three parallel arrays (fpr, tpr, threshold).
nlohmann::json to_json(const Metrics& metrics);
nlohmann::json to_json(const SourceMetrics& source);

}  // namespace forensight::eval
