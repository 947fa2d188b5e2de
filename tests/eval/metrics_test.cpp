// Behaviour of eval/metrics beyond the sklearn comparison: undefined values on degenerate input,
// input validation, the JSON form. Values here are small enough to check by hand.
#include "forensight/eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "forensight/core/error.h"

namespace forensight::eval {
namespace {

TEST(MetricsTest, EmptyInputGivesNaNAndANote) {
  Metrics m = compute_metrics({}, {});
  EXPECT_EQ(m.count, 0);
  EXPECT_TRUE(std::isnan(m.accuracy));
  EXPECT_TRUE(std::isnan(m.roc_auc));
  EXPECT_TRUE(std::isnan(m.average_precision));
  EXPECT_TRUE(std::isnan(m.equal_error_rate));
  ASSERT_FALSE(m.notes.empty());
  EXPECT_NE(m.notes[0].find("no images"), std::string::npos) << m.notes[0];
  nlohmann::json j = to_json(m);
  EXPECT_TRUE(j["accuracy"].is_null());
  EXPECT_TRUE(j["roc_auc"].is_null());
}

TEST(MetricsTest, OneClassGivesNullAucApEerWithNote) {
  std::vector<double> scores = {0.9, 0.2, 0.7};
  std::vector<int> labels = {1, 1, 1};
  Metrics m = compute_metrics(scores, labels);
  EXPECT_DOUBLE_EQ(m.accuracy, 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(m.roc_auc));
  EXPECT_TRUE(std::isnan(m.average_precision));
  EXPECT_TRUE(std::isnan(m.equal_error_rate));
  EXPECT_TRUE(std::isnan(m.accuracy_real));
  ASSERT_FALSE(m.notes.empty());
  EXPECT_NE(m.notes[0].find("only AI-generated"), std::string::npos) << m.notes[0];
  nlohmann::json j = to_json(m);
  EXPECT_TRUE(j["average_precision"].is_null());
  EXPECT_TRUE(j["equal_error_rate"].is_null());
  EXPECT_FALSE(j.dump().empty());  // NaN never reaches the JSON text
}

TEST(MetricsTest, HandComputedSmallCase) {
  // Sorted: 0.9(1) 0.8(0) 0.6(1) 0.3(0). Pairs (fake > real): 0.9>0.8, 0.9>0.3, 0.6>0.3 = 3 of 4.
  std::vector<double> scores = {0.3, 0.9, 0.6, 0.8};
  std::vector<int> labels = {0, 1, 1, 0};
  Metrics m = compute_metrics(scores, labels);
  EXPECT_DOUBLE_EQ(m.roc_auc, 0.75);
  EXPECT_DOUBLE_EQ(m.average_precision, 0.5 * 1.0 + 0.5 * (2.0 / 3.0));
  EXPECT_EQ(m.confusion.true_positives, 2);
  EXPECT_EQ(m.confusion.false_positives, 1);
  EXPECT_EQ(m.confusion.true_negatives, 1);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.best_accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.equal_error_rate, 0.5);
  ASSERT_EQ(m.roc.size(), 5u);
  EXPECT_TRUE(std::isinf(m.roc[0].threshold));
  EXPECT_TRUE(to_json(m)["roc"]["threshold"][0].is_null());
}

TEST(MetricsTest, TiesBetweenClassesCountOneHalf) {
  std::vector<double> scores = {0.5, 0.5};
  std::vector<int> labels = {0, 1};
  EXPECT_DOUBLE_EQ(roc_auc(scores, labels), 0.5);
}

TEST(MetricsTest, BestThresholdSeparatesPerfectlySeparableScores) {
  std::vector<double> scores = {0.1, 0.2, 0.3, 0.35, 0.4};
  std::vector<int> labels = {0, 0, 0, 1, 1};
  Metrics m = compute_metrics(scores, labels);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(m.best_accuracy, 1.0);
  EXPECT_GT(m.best_threshold, 0.3);
  EXPECT_LE(m.best_threshold, 0.35);
}

TEST(MetricsTest, PerSourceRowsGiveAucOnlyForGenerators) {
  std::vector<double> scores = {0.1, 0.2, 0.9, 0.15, 0.6};
  std::vector<int> labels = {0, 0, 1, 1, 1};
  std::vector<std::string> sources = {"coco", "coco", "sdxl", "sdxl", "mixed"};
  Metrics m = compute_metrics(scores, labels, {}, sources);
  ASSERT_EQ(m.sources.size(), 3u);
  EXPECT_EQ(m.sources[0].source, "coco");
  EXPECT_TRUE(std::isnan(m.sources[0].roc_auc_vs_real));  // real images: no AUC
  EXPECT_DOUBLE_EQ(m.sources[0].accuracy, 1.0);
  EXPECT_EQ(m.sources[2].source, "sdxl");
  EXPECT_DOUBLE_EQ(m.sources[2].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.sources[2].roc_auc_vs_real, 0.75);  // 0.9 beats both, 0.15 beats 0.1 only
}

// A generator's images pooled with every real one: the cell of a leave-one-family-out matrix.
TEST(MetricsTest, PerSourceRowsJudgeGeneratorsTogetherWithTheRealImages) {
  std::vector<double> scores = {0.1, 0.2, 0.9, 0.15, 0.6};
  std::vector<int> labels = {0, 0, 1, 1, 1};
  std::vector<std::string> sources = {"coco", "coco", "sdxl", "sdxl", "mixed"};
  Metrics m = compute_metrics(scores, labels, {}, sources);
  ASSERT_EQ(m.sources.size(), 3u);
  // sdxl + coco: 0.9 (P), 0.2 (N), 0.15 (P), 0.1 (N). Right at 0.5: both reals and 0.9.
  EXPECT_DOUBLE_EQ(m.sources[2].accuracy_vs_real, 0.75);
  // AP: recall 1/2 at precision 1, then recall 1 at precision 2/3 (sklearn's step sum).
  EXPECT_NEAR(m.sources[2].average_precision_vs_real, 0.5 * 1.0 + 0.5 * 2.0 / 3.0, 1e-12);
  EXPECT_TRUE(std::isnan(m.sources[0].accuracy_vs_real));  // real images: not a generator
  EXPECT_TRUE(std::isnan(m.sources[0].average_precision_vs_real));
  const nlohmann::json row = to_json(m.sources[2]);
  EXPECT_DOUBLE_EQ(row["accuracy_vs_real"].get<double>(), 0.75);
  EXPECT_TRUE(to_json(m.sources[0])["average_precision_vs_real"].is_null());
}

TEST(MetricsTest, RejectsBadInputWithMessage) {
  std::vector<double> scores = {0.2, 1.5};
  std::vector<int> labels = {0, 1};
  EXPECT_THROW(compute_metrics(scores, labels), Error);
  std::vector<double> nan_scores = {0.2, std::nan("")};
  EXPECT_THROW(compute_metrics(nan_scores, labels), Error);
  std::vector<double> ok = {0.2, 0.3};
  std::vector<int> bad_labels = {0, 2};
  try {
    compute_metrics(ok, bad_labels);
    FAIL() << "label 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("labels are 0 (real) or 1"), std::string::npos);
  }
  std::vector<int> short_labels = {0};
  EXPECT_THROW(compute_metrics(ok, short_labels), Error);
  std::vector<std::string> one_source = {"a"};
  EXPECT_THROW(compute_metrics(ok, labels, {}, one_source), Error);
  EXPECT_THROW(compute_metrics(ok, labels, {.threshold = 1.5}), Error);
}

}  // namespace
}  // namespace forensight::eval
