#include "forensight/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "forensight/core/error.h"

namespace forensight::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Held as views: GCC 12 warns falsely (-Warray-bounds) on push_back of a long string literal.
constexpr std::string_view kNoteEmpty = "no images: every metric is undefined";
constexpr std::string_view kNoteNothingPredictedFake =
    "no image predicted AI-generated: precision is reported as 0";

void validate(std::span<const double> scores, std::span<const int> labels) {
  FS_CHECK(scores.size() == labels.size(), "metrics need one label per score: {} scores, {} labels",
           scores.size(), labels.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    FS_CHECK(scores[i] >= 0.0 && scores[i] <= 1.0,
             "score {} is {}: scores are probabilities P(AI-generated) in [0, 1]", i, scores[i]);
    FS_CHECK(labels[i] == 0 || labels[i] == 1,
             "label {} is {}: labels are 0 (real) or 1 (AI-generated)", i, labels[i]);
  }
}

// sklearn's _binary_clf_curve: for each distinct score, from the highest down, how many positives
// (tps) and negatives (fps) score at least that much. Integer counts keep the areas exact.
struct ClfCurve {
  std::vector<double> thresholds;
  std::vector<int64_t> tps;
  std::vector<int64_t> fps;
  int64_t positives() const { return tps.empty() ? 0 : tps.back(); }
  int64_t negatives() const { return fps.empty() ? 0 : fps.back(); }
};

ClfCurve binary_clf_curve(std::span<const double> scores, std::span<const int> labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ClfCurve curve;
  int64_t tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (labels[order[k]] == 1 ? tp : fp) += 1;
    bool last_of_tie = k + 1 == order.size() || scores[order[k + 1]] != scores[order[k]];
    if (!last_of_tie) continue;
    curve.thresholds.push_back(scores[order[k]]);
    curve.tps.push_back(tp);
    curve.fps.push_back(fp);
  }
  return curve;
}

// Trapezoids between consecutive points; each is (Δfps)(tps_k + tps_{k-1}) / 2 in counts, so a tie
// between a real and a fake image counts one half, as in sklearn and the Mann-Whitney U.
double auc_of(const ClfCurve& curve) {
  int64_t positives = curve.positives(), negatives = curve.negatives();
  if (positives == 0 || negatives == 0) return kNaN;
  int64_t twice_area = 0, prev_tp = 0, prev_fp = 0;
  for (size_t k = 0; k < curve.thresholds.size(); ++k) {
    twice_area += (curve.fps[k] - prev_fp) * (curve.tps[k] + prev_tp);
    prev_tp = curve.tps[k];
    prev_fp = curve.fps[k];
  }
  return static_cast<double>(twice_area) /
         (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
}

// sklearn's step-wise AP: sum over thresholds of (R_k - R_{k-1}) P_k, no interpolation.
double average_precision_of(const ClfCurve& curve) {
  int64_t positives = curve.positives(), negatives = curve.negatives();
  if (positives == 0 || negatives == 0) return kNaN;
  double sum = 0;
  int64_t prev_tp = 0;
  for (size_t k = 0; k < curve.thresholds.size(); ++k) {
    if (curve.tps[k] == prev_tp) continue;
    double precision =
        static_cast<double>(curve.tps[k]) / static_cast<double>(curve.tps[k] + curve.fps[k]);
    sum += static_cast<double>(curve.tps[k] - prev_tp) * precision;
    prev_tp = curve.tps[k];
  }
  return sum / static_cast<double>(positives);
}

std::vector<RocPoint> roc_of(const ClfCurve& curve) {
  double positives = static_cast<double>(curve.positives());
  double negatives = static_cast<double>(curve.negatives());
  std::vector<RocPoint> roc;
  roc.reserve(curve.thresholds.size() + 1);
  roc.push_back({0.0, 0.0, kInf});
  for (size_t k = 0; k < curve.thresholds.size(); ++k) {
    roc.push_back({negatives > 0 ? static_cast<double>(curve.fps[k]) / negatives : kNaN,
                   positives > 0 ? static_cast<double>(curve.tps[k]) / positives : kNaN,
                   curve.thresholds[k]});
  }
  return roc;
}

// The threshold maximising accuracy. Cutting between two distinct scores, the midpoint is reported
// (it gives the same split as either end and is the more robust choice on new data); predicting
// everything real needs a threshold just above the highest score. Among equally accurate cuts the
// one nearest `preferred` wins, so that a good default threshold is kept when it is already best.
std::pair<double, double> best_accuracy_threshold(const ClfCurve& curve, double preferred) {
  int64_t total = curve.positives() + curve.negatives();
  if (total == 0) return {kNaN, kNaN};
  // Candidate k = -1: nothing predicted AI-generated; k >= 0: scores >= thresholds[k] are.
  auto correct_at = [&](int64_t k) {
    return k < 0 ? curve.negatives() : curve.tps[k] + (curve.negatives() - curve.fps[k]);
  };
  auto threshold_at = [&](int64_t k) {
    if (k < 0) return std::nextafter(curve.thresholds.front(), kInf);
    size_t next = static_cast<size_t>(k) + 1;
    if (next == curve.thresholds.size()) return curve.thresholds[k];
    return 0.5 * (curve.thresholds[k] + curve.thresholds[next]);
  };
  int64_t best_k = -1;
  for (int64_t k = 0; k < static_cast<int64_t>(curve.thresholds.size()); ++k) {
    int64_t correct = correct_at(k), best_correct = correct_at(best_k);
    if (correct > best_correct ||
        (correct == best_correct &&
         std::abs(threshold_at(k) - preferred) < std::abs(threshold_at(best_k) - preferred)))
      best_k = k;
  }
  return {threshold_at(best_k),
          static_cast<double>(correct_at(best_k)) / static_cast<double>(total)};
}

double ratio(int64_t numerator, int64_t denominator, double if_zero) {
  return denominator == 0 ? if_zero
                          : static_cast<double>(numerator) / static_cast<double>(denominator);
}

double f1_of(int64_t tp, int64_t fp, int64_t fn) {
  return ratio(2 * tp, 2 * tp + fp + fn, 0.0);
}

std::vector<SourceMetrics> per_source(std::span<const double> scores, std::span<const int> labels,
                                      std::span<const std::string> sources, double threshold) {
  std::map<std::string, std::vector<size_t>> members;
  for (size_t i = 0; i < sources.size(); ++i) members[sources[i]].push_back(i);
  std::vector<double> real_scores;
  for (size_t i = 0; i < scores.size(); ++i)
    if (labels[i] == 0) real_scores.push_back(scores[i]);

  std::vector<SourceMetrics> rows;
  for (const auto& [name, indices] : members) {
    SourceMetrics row;
    row.source = name;
    row.count = static_cast<int64_t>(indices.size());
    int64_t correct = 0;
    for (size_t i : indices) {
      (labels[i] == 1 ? row.count_fake : row.count_real) += 1;
      correct += (scores[i] >= threshold) == (labels[i] == 1);
    }
    row.accuracy = ratio(correct, row.count, kNaN);
    row.roc_auc_vs_real = kNaN;
    row.accuracy_vs_real = kNaN;
    row.average_precision_vs_real = kNaN;
    if (row.count_real == 0 && !real_scores.empty()) {
      std::vector<double> pooled_scores = real_scores;
      std::vector<int> pooled_labels(real_scores.size(), 0);
      for (size_t i : indices) {
        pooled_scores.push_back(scores[i]);
        pooled_labels.push_back(1);
      }
      const auto curve = binary_clf_curve(pooled_scores, pooled_labels);
      row.roc_auc_vs_real = auc_of(curve);
      row.average_precision_vs_real = average_precision_of(curve);
      int64_t pooled_correct = correct;  // this source's own, then the real images'
      for (double s : real_scores) pooled_correct += s < threshold;
      row.accuracy_vs_real =
          ratio(pooled_correct, static_cast<int64_t>(pooled_scores.size()), kNaN);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

double roc_auc(std::span<const double> scores, std::span<const int> labels) {
  validate(scores, labels);
  return auc_of(binary_clf_curve(scores, labels));
}

double average_precision(std::span<const double> scores, std::span<const int> labels) {
  validate(scores, labels);
  return average_precision_of(binary_clf_curve(scores, labels));
}

std::vector<RocPoint> roc_curve(std::span<const double> scores, std::span<const int> labels) {
  validate(scores, labels);
  return roc_of(binary_clf_curve(scores, labels));
}

double equal_error_rate(std::span<const RocPoint> roc) {
  // g = FNR - FPR = 1 - TPR - FPR falls strictly along the curve (every point raises TPR or FPR),
  // from 1 at (0, 0) to -1 at (1, 1): it crosses zero once, on one segment, where FPR = FNR.
  for (size_t k = 0; k + 1 < roc.size(); ++k) {
    const RocPoint& a = roc[k];
    const RocPoint& b = roc[k + 1];
    double g_a = 1.0 - a.true_positive_rate - a.false_positive_rate;
    double g_b = 1.0 - b.true_positive_rate - b.false_positive_rate;
    if (!(std::isfinite(g_a) && std::isfinite(g_b))) return kNaN;
    if (g_a >= 0.0 && g_b <= 0.0) {
      if (g_a == g_b) return a.false_positive_rate;
      double t = g_a / (g_a - g_b);
      return a.false_positive_rate + t * (b.false_positive_rate - a.false_positive_rate);
    }
  }
  return kNaN;
}

Metrics compute_metrics(std::span<const double> scores, std::span<const int> labels,
                        const MetricsOptions& options, std::span<const std::string> sources) {
  validate(scores, labels);
  FS_CHECK(options.threshold >= 0.0 && options.threshold <= 1.0,
           "threshold is {}: it must lie in [0, 1]", options.threshold);
  FS_CHECK(sources.empty() || sources.size() == scores.size(),
           "sources must be empty or one per score: {} sources, {} scores", sources.size(),
           scores.size());
  Metrics m;
  m.threshold = options.threshold;
  m.count = static_cast<int64_t>(scores.size());
  ConfusionMatrix& c = m.confusion;
  for (size_t i = 0; i < scores.size(); ++i) {
    bool predicted_fake = scores[i] >= options.threshold;
    if (labels[i] == 1)
      (predicted_fake ? c.true_positives : c.false_negatives) += 1;
    else
      (predicted_fake ? c.false_positives : c.true_negatives) += 1;
  }
  m.count_fake = c.true_positives + c.false_negatives;
  m.count_real = c.true_negatives + c.false_positives;

  m.accuracy = ratio(c.true_positives + c.true_negatives, m.count, kNaN);
  m.precision = ratio(c.true_positives, c.true_positives + c.false_positives, 0.0);
  m.recall = ratio(c.true_positives, m.count_fake, 0.0);
  m.f1 = f1_of(c.true_positives, c.false_positives, c.false_negatives);
  m.f1_real = f1_of(c.true_negatives, c.false_negatives, c.false_positives);
  m.macro_f1 = 0.5 * (m.f1 + m.f1_real);
  m.accuracy_real = ratio(c.true_negatives, m.count_real, kNaN);
  m.accuracy_fake = ratio(c.true_positives, m.count_fake, kNaN);

  ClfCurve curve = binary_clf_curve(scores, labels);
  m.roc_auc = auc_of(curve);
  m.average_precision = average_precision_of(curve);
  std::vector<RocPoint> roc = roc_of(curve);
  m.equal_error_rate = m.count_real > 0 && m.count_fake > 0 ? equal_error_rate(roc) : kNaN;
  if (options.keep_roc) m.roc = std::move(roc);
  std::tie(m.best_threshold, m.best_accuracy) = best_accuracy_threshold(curve, options.threshold);

  if (m.count == 0) {
    m.notes.emplace_back(kNoteEmpty);
  } else if (m.count_real == 0 || m.count_fake == 0) {
    m.notes.push_back(fmt::format(
        "only {} images: ROC-AUC, average precision and EER need both classes and are null",
        m.count_real == 0 ? "AI-generated" : "real"));
  }
  if (m.count > 0 && c.true_positives + c.false_positives == 0)
    m.notes.emplace_back(kNoteNothingPredictedFake);
  if (!sources.empty()) m.sources = per_source(scores, labels, sources, options.threshold);
  return m;
}

nlohmann::json to_json(const SourceMetrics& s) {
  return {{"source", s.source},
          {"count", s.count},
          {"count_real", s.count_real},
          {"count_fake", s.count_fake},
          {"accuracy", number_or_null(s.accuracy)},
          {"roc_auc_vs_real", number_or_null(s.roc_auc_vs_real)},
          {"accuracy_vs_real", number_or_null(s.accuracy_vs_real)},
          {"average_precision_vs_real", number_or_null(s.average_precision_vs_real)}};
}

nlohmann::json to_json(const Metrics& m) {
  nlohmann::json fpr = nlohmann::json::array(), tpr = nlohmann::json::array(),
                 thresholds = nlohmann::json::array();
  for (const RocPoint& p : m.roc) {
    fpr.push_back(number_or_null(p.false_positive_rate));
    tpr.push_back(number_or_null(p.true_positive_rate));
    thresholds.push_back(number_or_null(p.threshold));  // the first, +inf, becomes null
  }
  nlohmann::json sources = nlohmann::json::array();
  for (const SourceMetrics& s : m.sources) sources.push_back(to_json(s));
  return {{"count", m.count},
          {"count_real", m.count_real},
          {"count_fake", m.count_fake},
          {"threshold", m.threshold},
          {"confusion",
           {{"true_negatives", m.confusion.true_negatives},
            {"false_positives", m.confusion.false_positives},
            {"false_negatives", m.confusion.false_negatives},
            {"true_positives", m.confusion.true_positives}}},
          {"accuracy", number_or_null(m.accuracy)},
          {"precision", number_or_null(m.precision)},
          {"recall", number_or_null(m.recall)},
          {"f1", number_or_null(m.f1)},
          {"f1_real", number_or_null(m.f1_real)},
          {"macro_f1", number_or_null(m.macro_f1)},
          {"accuracy_real", number_or_null(m.accuracy_real)},
          {"accuracy_fake", number_or_null(m.accuracy_fake)},
          {"roc_auc", number_or_null(m.roc_auc)},
          {"average_precision", number_or_null(m.average_precision)},
          {"equal_error_rate", number_or_null(m.equal_error_rate)},
          {"best_threshold", number_or_null(m.best_threshold)},
          {"best_accuracy", number_or_null(m.best_accuracy)},
          {"roc", {{"fpr", fpr}, {"tpr", tpr}, {"threshold", thresholds}}},
          {"sources", sources},
          {"notes", m.notes}};
}

}  // namespace forensight::eval
