// The held-out figures of a leave-one-out run: a source judged against the evaluation's images of
// the class it lacks, and the trainer's report carrying them (report.json "held_out", report.md).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../support/tiny_dataset.h"
#include "forensight/core/error.h"
#include "forensight/eval/evaluate.h"

namespace forensight::eval {
namespace {

// Reals of "photos" (one of them with no source), fakes of "tconv" and "upsample".
struct Fixture {
  data::Dataset dataset;
  InferenceResult inference;
};

Fixture fixture() {
  Fixture f;
  f.dataset.root = "families.csv";
  const std::vector<std::tuple<std::string, int, double>> rows = {
      {"photos", 0, 0.1}, {"photos", 0, 0.6},   {"", 0, 0.3},         {"tconv", 1, 0.9},
      {"tconv", 1, 0.4},  {"upsample", 1, 0.2}, {"upsample", 1, 0.05}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [source, label, score] = rows[i];
    f.dataset.samples.push_back({"img" + std::to_string(i), label, "", source});
    f.inference.scores.push_back(score);
    f.inference.labels.push_back(label);
    f.inference.indices.push_back(static_cast<int64_t>(i));
    f.inference.losses.push_back(0.0);
  }
  return f;
}

TEST(HeldOutReportTest, GeneratorIsJudgedAgainstEveryRealImage) {
  const Fixture f = fixture();
  const Metrics m = source_against_other_class(f.inference, f.dataset, "upsample");
  EXPECT_EQ(m.count_fake, 2);
  EXPECT_EQ(m.count_real, 3);  // photos and the image without a source
  // Right at 0.5: reals 0.1 and 0.3, no upsample fake.
  EXPECT_DOUBLE_EQ(m.accuracy, 2.0 / 5.0);
  // Fakes 0.2 and 0.05 against reals 0.1, 0.6, 0.3: 0.2 beats one real, 0.05 none.
  EXPECT_DOUBLE_EQ(m.roc_auc, 1.0 / 6.0);
}

TEST(HeldOutReportTest, RealSourceIsJudgedAgainstEveryFake) {
  const Fixture f = fixture();
  const Metrics m = source_against_other_class(f.inference, f.dataset, "photos");
  EXPECT_EQ(m.count_real, 2);
  EXPECT_EQ(m.count_fake, 4);
}

TEST(HeldOutReportTest, SourceWithoutImagesOrOtherClassIsRefused) {
  const Fixture f = fixture();
  EXPECT_THROW(source_against_other_class(f.inference, f.dataset, "diffusion"), Error);
  Fixture fakes_only = fixture();
  for (auto& label : fakes_only.inference.labels) label = 1;
  EXPECT_THROW(source_against_other_class(fakes_only.inference, fakes_only.dataset, "tconv"),
               Error);
}

TEST(HeldOutReportTest, TrainersReportCarriesTheHeldOutSource) {
  const Fixture f = fixture();
  const std::string dir = testing::make_test_dir();
  const nlohmann::json metrics =
      write_evaluation_report(f.inference, f.dataset, dir, "test", "best.pt", "upsample");
  ASSERT_TRUE(metrics.contains("held_out")) << metrics.dump();
  EXPECT_EQ(metrics["held_out"]["source"], "upsample");
  EXPECT_DOUBLE_EQ(metrics["held_out"]["accuracy"].get<double>(), 0.4);
  EXPECT_TRUE(metrics["held_out"].contains("average_precision"));
  std::ifstream json_file(dir + "/report.json");
  const nlohmann::json report = nlohmann::json::parse(json_file);
  EXPECT_EQ(report["held_out"]["source"], "upsample");
  std::stringstream md;
  md << std::ifstream(dir + "/report.md").rdbuf();
  EXPECT_NE(md.str().find("## Held-out source: upsample"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("AP vs real"), std::string::npos) << md.str();

  // Without a held-out source the report is as before.
  const nlohmann::json plain = write_evaluation_report(f.inference, f.dataset, dir, "test", "b.pt");
  EXPECT_FALSE(plain.contains("held_out"));
}

}  // namespace
}  // namespace forensight::eval
