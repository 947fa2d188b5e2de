// Every metric of eval/metrics checked against scikit-learn on the same scores: deterministic
// score/label sets go to a temporary file, tests/eval/sklearn_reference.py prints sklearn's values
// as JSON, and each value must agree within kTolerance. A failing case prints its inputs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../support/build_paths.h"
#include "forensight/eval/metrics.h"

namespace forensight::eval {
namespace {

constexpr double kTolerance = 1e-9;

struct Case {
  std::string name;
  std::vector<double> scores;
  std::vector<int> labels;
  std::vector<std::string> sources;
  double threshold = 0.5;
};

// Uniform in [0, 1) from the engine's raw output, so the sets do not depend on the standard
// library's distribution implementation.
double uniform(std::mt19937& engine) {
  return static_cast<double>(engine()) / 4294967296.0;
}

// Scores with some signal: fakes drawn from [0.3, 1), reals from [0, 0.7); rounded to `decimals`
// when decimals > 0, which makes ties between classes.
Case noisy_case(std::string name, int count_real, int count_fake, uint32_t seed, int decimals) {
  std::mt19937 engine(seed);
  Case c{std::move(name), {}, {}, {}, 0.5};
  for (int i = 0; i < count_real + count_fake; ++i) {
    int label = i < count_real ? 0 : 1;
    double score = label == 1 ? 0.3 + 0.7 * uniform(engine) : 0.7 * uniform(engine);
    if (decimals > 0) {
      double scale = std::pow(10.0, decimals);
      score = std::round(score * scale) / scale;
    }
    c.scores.push_back(score);
    c.labels.push_back(label);
  }
  // Interleave the classes so order does not follow the labels.
  std::vector<size_t> order(c.scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), engine);
  Case shuffled = c;
  for (size_t i = 0; i < order.size(); ++i) {
    shuffled.scores[i] = c.scores[order[i]];
    shuffled.labels[i] = c.labels[order[i]];
  }
  return shuffled;
}

std::vector<Case> reference_cases() {
  std::vector<Case> cases;
  cases.push_back(noisy_case("balanced_continuous", 150, 150, 1, 0));
  cases.push_back(noisy_case("ties_two_decimals", 120, 80, 2, 1));
  cases.push_back(noisy_case("imbalanced_few_fakes", 195, 5, 3, 2));
  cases.push_back(noisy_case("imbalanced_few_reals", 7, 93, 4, 2));
  Case quantised = noisy_case("ties_quarter_steps", 60, 60, 5, 0);
  for (double& s : quantised.scores) s = std::round(s * 4.0) / 4.0;
  cases.push_back(quantised);
  cases.push_back({"perfect_separation", {0.1, 0.2, 0.3, 0.6, 0.8, 0.99}, {0, 0, 0, 1, 1, 1}});
  cases.push_back({"perfectly_inverted", {0.9, 0.8, 0.7, 0.1, 0.2, 0.0}, {0, 0, 0, 1, 1, 1}});
  cases.push_back({"all_scores_equal", {0.5, 0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1, 1}});
  cases.push_back({"threshold_boundary", {0.5, 0.5, 0.49, 0.51, 1.0, 0.0}, {1, 0, 0, 1, 1, 0}});
  cases.push_back({"two_samples", {0.4, 0.6}, {1, 0}});
  cases.push_back({"low_threshold", {0.05, 0.15, 0.25, 0.35, 0.45}, {0, 0, 1, 1, 1}, {}, 0.2});
  cases.push_back({"only_fakes", {0.2, 0.7, 0.9, 0.4}, {1, 1, 1, 1}});
  cases.push_back({"only_reals_all_predicted_real", {0.2, 0.1, 0.3}, {0, 0, 0}});
  Case sourced = noisy_case("with_sources", 100, 150, 6, 2);
  const std::vector<std::string> generators = {"midjourney", "sdxl", "dalle3"};
  const std::vector<std::string> real_origins = {"coco", "laion"};
  for (size_t i = 0; i < sourced.scores.size(); ++i) {
    const auto& pool = sourced.labels[i] == 1 ? generators : real_origins;
    sourced.sources.push_back(pool[i % pool.size()]);
  }
  sourced.sources[3] = "mixed_folder";  // a source holding both classes has no AUC vs real
  sourced.sources[4] = "mixed_folder";
  cases.push_back(sourced);
  return cases;
}

nlohmann::json cases_to_json(const std::vector<Case>& cases) {
  nlohmann::json out = nlohmann::json::array();
  for (const Case& c : cases) {
    nlohmann::json j = {
        {"name", c.name}, {"scores", c.scores}, {"labels", c.labels}, {"threshold", c.threshold}};
    if (!c.sources.empty()) j["sources"] = c.sources;
    out.push_back(j);
  }
  return out;
}

// sklearn's null (undefined) must be our NaN; numbers must agree within kTolerance.
void expect_matches(const std::string& what, double ours, const nlohmann::json& theirs) {
  if (theirs.is_null()) {
    EXPECT_TRUE(std::isnan(ours)) << what << ": sklearn says undefined, we say " << ours;
  } else {
    EXPECT_NEAR(ours, theirs.get<double>(), kTolerance) << what;
  }
}

class MetricsReferenceIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("forensight_metrics_reference_" + std::to_string(::getpid()));
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }
  std::filesystem::path folder_;
};

TEST_F(MetricsReferenceIntegration, EveryMetricMatchesScikitLearn) {
  const std::vector<Case> cases = reference_cases();
  const auto input = folder_ / "cases.json";
  const auto output = folder_ / "sklearn.json";
  std::ofstream(input) << cases_to_json(cases).dump();
  const std::string script =
      std::string(forensight::testing::test_source_dir()) + "/eval/sklearn_reference.py";
  const std::string command = "'" + std::string(FORENSIGHT_PYTHON) + "' '" + script + "' '" +
                              input.string() + "' '" + output.string() + "'";
  int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
    GTEST_SKIP() << "scikit-learn is not importable by " << FORENSIGHT_PYTHON;
  ASSERT_EQ(status, 0) << "reference script failed: " << command;
  nlohmann::json reference = nlohmann::json::parse(std::ifstream(output));

  for (const Case& c : cases) {
    SCOPED_TRACE("case " + c.name + " inputs: " + cases_to_json({c})[0].dump());
    ASSERT_TRUE(reference.contains(c.name));
    const nlohmann::json& ref = reference[c.name];
    Metrics m = compute_metrics(c.scores, c.labels, {.threshold = c.threshold}, c.sources);

    expect_matches("accuracy", m.accuracy, ref["accuracy"]);
    expect_matches("precision", m.precision, ref["precision"]);
    expect_matches("recall", m.recall, ref["recall"]);
    expect_matches("f1", m.f1, ref["f1"]);
    expect_matches("f1_real", m.f1_real, ref["f1_real"]);
    expect_matches("macro_f1", m.macro_f1, ref["macro_f1"]);
    expect_matches("accuracy_real", m.accuracy_real, ref["accuracy_real"]);
    expect_matches("accuracy_fake", m.accuracy_fake, ref["accuracy_fake"]);
    expect_matches("roc_auc", m.roc_auc, ref["roc_auc"]);
    expect_matches("average_precision", m.average_precision, ref["average_precision"]);
    expect_matches("equal_error_rate", m.equal_error_rate, ref["equal_error_rate"]);
    expect_matches("best_accuracy", m.best_accuracy, ref["best_accuracy"]);
    const std::vector<int64_t> confusion = ref["confusion"];  // tn, fp, fn, tp
    EXPECT_EQ(m.confusion.true_negatives, confusion[0]);
    EXPECT_EQ(m.confusion.false_positives, confusion[1]);
    EXPECT_EQ(m.confusion.false_negatives, confusion[2]);
    EXPECT_EQ(m.confusion.true_positives, confusion[3]);

    // The reported best threshold must itself reach the best accuracy.
    Metrics at_best =
        compute_metrics(c.scores, c.labels, {.threshold = std::min(m.best_threshold, 1.0)});
    if (m.best_threshold <= 1.0)
      expect_matches("accuracy at best_threshold", at_best.accuracy, ref["best_accuracy"]);

    if (ref.contains("roc_fpr")) {
      ASSERT_EQ(m.roc.size(), ref["roc_fpr"].size()) << "ROC point count";
      for (size_t k = 0; k < m.roc.size(); ++k) {
        const std::string at = " at ROC point " + std::to_string(k);
        expect_matches("fpr" + at, m.roc[k].false_positive_rate, ref["roc_fpr"][k]);
        expect_matches("tpr" + at, m.roc[k].true_positive_rate, ref["roc_tpr"][k]);
        if (ref["roc_threshold"][k].is_null())
          EXPECT_TRUE(std::isinf(m.roc[k].threshold)) << "threshold" << at;
        else
          expect_matches("threshold" + at, m.roc[k].threshold, ref["roc_threshold"][k]);
      }
    }
    if (!c.sources.empty()) {
      ASSERT_EQ(m.sources.size(), ref["sources"].size());
      for (const SourceMetrics& row : m.sources) {
        ASSERT_TRUE(ref["sources"].contains(row.source)) << row.source;
        const nlohmann::json& ref_row = ref["sources"][row.source];
        expect_matches(row.source + " accuracy", row.accuracy, ref_row["accuracy"]);
        expect_matches(row.source + " roc_auc_vs_real", row.roc_auc_vs_real,
                       ref_row["roc_auc_vs_real"]);
      }
    }
  }
}

}  // namespace
}  // namespace forensight::eval
