// eval/report: the JSON and Markdown forms of an evaluation carry the metrics, the per-source rows
// and the robustness table, with undefined values as null / n/a.
#include "forensight/eval/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace forensight::eval {
namespace {

EvaluationReport sample_report() {
  std::vector<double> scores = {0.1, 0.4, 0.8, 0.9, 0.35, 0.7};
  std::vector<int> labels = {0, 0, 1, 1, 1, 0};
  std::vector<std::string> sources = {"coco", "coco", "sdxl", "sdxl", "mid|journey", "laion"};
  EvaluationReport report;
  report.title = "ResNet-18 on the built-in set";
  report.model = "runs/r18/best.pt";
  report.dataset = "builtin test split";
  report.metrics = compute_metrics(scores, labels, {}, sources);
  std::vector<double> degraded_scores = {0.3, 0.6, 0.7, 0.5, 0.2, 0.4};
  Metrics degraded = compute_metrics(degraded_scores, labels);
  report.robustness.push_back(robustness_row("clean", report.metrics, report.metrics));
  report.robustness.push_back(robustness_row("jpeg q=50", degraded, report.metrics));
  report.roc_plot_file = "roc.png";
  return report;
}

TEST(ReportTest, RobustnessRowMeasuresDropAgainstClean) {
  EvaluationReport report = sample_report();
  const RobustnessRow& row = report.robustness[1];
  EXPECT_DOUBLE_EQ(row.accuracy_drop, report.metrics.accuracy - row.accuracy);
  EXPECT_DOUBLE_EQ(row.roc_auc_drop, report.metrics.roc_auc - row.roc_auc);
  EXPECT_DOUBLE_EQ(report.robustness[0].accuracy_drop, 0.0);
}

TEST(ReportTest, JsonCarriesMetricsSourcesAndRobustness) {
  EvaluationReport report = sample_report();
  nlohmann::json j = to_json(report);
  EXPECT_EQ(j["model"], "runs/r18/best.pt");
  EXPECT_DOUBLE_EQ(j["metrics"]["accuracy"].get<double>(), report.metrics.accuracy);
  ASSERT_EQ(j["metrics"]["sources"].size(), 4u);
  EXPECT_TRUE(j["metrics"]["sources"][0]["roc_auc_vs_real"].is_null());  // coco is real
  ASSERT_EQ(j["robustness"].size(), 2u);
  EXPECT_EQ(j["robustness"][1]["degradation"], "jpeg q=50");
  EXPECT_DOUBLE_EQ(j["robustness"][1]["roc_auc"].get<double>(), report.robustness[1].roc_auc);
}

TEST(ReportTest, MarkdownHasTablesAndEscapesPipes) {
  std::string md = to_markdown(sample_report());
  EXPECT_NE(md.find("# ResNet-18 on the built-in set"), std::string::npos) << md;
  EXPECT_NE(md.find("| Macro-F1 | "), std::string::npos) << md;
  EXPECT_NE(md.find("| Real | 2 | 1 |"), std::string::npos) << md;  // tn, fp at 0.5
  EXPECT_NE(md.find("| coco | 2 | 2 | 0 | 1.0000 | n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("| sdxl | 2 | 0 | 2 | 1.0000 | 1.0000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("mid\\|journey"), std::string::npos) << md;
  EXPECT_NE(md.find("| jpeg q=50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("![ROC curve](roc.png)"), std::string::npos) << md;
}

// A leave-one-out test split mixes the unseen family with seen ones, so the sweep keeps each
// generator's accuracy vs real under every degradation.
TEST(ReportTest, RobustnessKeepsEachGeneratorUnderTheDegradation) {
  std::vector<int> labels = {0, 0, 1, 1, 1};
  std::vector<std::string> sources = {"coco", "coco", "sdxl", "sdxl", "gan"};
  std::vector<double> clean_scores = {0.1, 0.2, 0.9, 0.8, 0.7};
  std::vector<double> jpeg_scores = {0.1, 0.2, 0.3, 0.8, 0.7};  // one sdxl image missed
  EvaluationReport report;
  report.metrics = compute_metrics(clean_scores, labels, {}, sources);
  report.robustness.push_back(robustness_row(
      "jpeg q=50", compute_metrics(jpeg_scores, labels, {}, sources), report.metrics));

  const RobustnessRow& row = report.robustness[0];
  ASSERT_EQ(row.sources.size(), 3u);  // sorted by name: coco, gan, sdxl
  EXPECT_EQ(row.sources[2].source, "sdxl");
  EXPECT_DOUBLE_EQ(row.sources[2].accuracy_vs_real, 0.75);  // both reals, one of two sdxl
  nlohmann::json j = to_json(report);
  EXPECT_DOUBLE_EQ(j["robustness"][0]["sources"][2]["accuracy_vs_real"].get<double>(), 0.75);
  std::string md = to_markdown(report);
  EXPECT_NE(md.find("| Degradation | gan | sdxl |"), std::string::npos) << md;  // no real column
  EXPECT_NE(md.find("| clean | 1.0000 | 1.0000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| jpeg q=50 | 1.0000 | 0.7500 |"), std::string::npos) << md;
}

TEST(ReportTest, NoPerGeneratorTableWithoutDegradedSources) {
  EvaluationReport report = sample_report();
  report.robustness.erase(report.robustness.begin());  // the "clean" row carries sources
  std::string md = to_markdown(report);                // the "jpeg q=50" row's metrics have none
  EXPECT_NE(md.find("## Robustness"), std::string::npos) << md;
  EXPECT_EQ(md.find("Per generator"), std::string::npos) << md;
}

TEST(ReportTest, UndefinedValuesShowAsNullAndNA) {
  EvaluationReport report;
  std::vector<double> scores = {0.9};
  std::vector<int> labels = {1};
  report.metrics = compute_metrics(scores, labels);
  EXPECT_TRUE(to_json(report)["metrics"]["roc_auc"].is_null());
  std::string md = to_markdown(report);
  EXPECT_NE(md.find("| ROC-AUC | n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Notes"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Robustness"), std::string::npos) << md;
}

TEST(ReportTest, WriteReportWritesBothFiles) {
  auto folder =
      std::filesystem::temp_directory_path() / ("forensight_report_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  EvaluationReport report = sample_report();
  write_report(report, folder);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(folder / "report.json"));
  EXPECT_EQ(j, to_json(report));
  std::stringstream md;
  md << std::ifstream(folder / "report.md").rdbuf();
  EXPECT_EQ(md.str(), to_markdown(report));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace forensight::eval
