// The forensight executable's error paths: every bad input ends with a clear message that names
// the thing and the reason, and a non-zero exit — never a crash or a silent success.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "../support/cli.h"
#include "../support/tiny_dataset.h"

namespace forensight {
namespace {

using Outcome = testing::CliOutcome;
constexpr auto& run = testing::run_forensight;

void expect_failure_mentioning(const Outcome& o, const std::string& needle) {
  EXPECT_NE(o.status, 0) << o.output;
  EXPECT_NE(o.output.find(needle), std::string::npos)
      << "expected the message to mention '" << needle << "', got:\n"
      << o.output;
}

TEST(CliTest, UnknownSubcommandIsRefused) {
  expect_failure_mentioning(run("tarin"), "tarin");
}

TEST(CliTest, UnknownTrainFlagIsRefused) {
  expect_failure_mentioning(run("train --data x --out y --learning-rate 3"), "--learning-rate");
}

TEST(CliTest, MissingTrainingDataIsNamed) {
  const std::string dir = testing::make_test_dir();
  expect_failure_mentioning(run("train --data " + dir + "/nowhere --out " + dir + "/run"),
                            dir + "/nowhere");
}

TEST(CliTest, BadChoiceListsValidChoices) {
  expect_failure_mentioning(run("train --data x --out y --optimizer lion"), "adamw");
}

TEST(CliTest, UnknownConfigKeyListsValidKeys) {
  const std::string dir = testing::make_test_dir();
  std::ofstream(dir + "/config.yaml") << "lr: 0.01\nbatch_sise: 8\n";
  const auto o = run("train --config " + dir + "/config.yaml --data x --out " + dir + "/run");
  expect_failure_mentioning(o, "batch_sise");
  EXPECT_NE(o.output.find("batch-size"), std::string::npos) << o.output;
}

TEST(CliTest, UnreadableCheckpointIsNamed) {
  const std::string dir = testing::make_test_dir();
  std::ofstream(dir + "/broken.pt") << "this is not a checkpoint";
  expect_failure_mentioning(run("eval --checkpoint " + dir + "/broken.pt --data " + dir),
                            "broken.pt");
  expect_failure_mentioning(run("predict --checkpoint " + dir + "/missing.pt " + dir),
                            "missing.pt");
}

TEST(CliTest, UnknownPresetListsPresets) {
  expect_failure_mentioning(run("train --preset resnet50 --data x --out y"), "resnet18-cpu");
}

}  // namespace
}  // namespace forensight

namespace forensight {
namespace {

// A one-step run on 8 tiny images in DIR/run; returns the data folder. `split` as --split.
std::string train_tiny_run(const std::string& dir, const std::string& split) {
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 4});
  const auto trained = run("train --data " + data + " --out " + dir +
                           "/run --image-size 32 --batch-size 4 --max-steps 1 --split " + split +
                           " --workers 0 --threads 1");
  EXPECT_EQ(trained.status, 0) << trained.output;
  return data;
}

// One tiny run, then `predict` with two checkpoints over several images: every image gets each
// model's answer and the mean, and an unreadable file is reported without stopping the rest.
TEST(CliIntegration, PredictGivesEveryImageEachModelsAnswer) {
  const std::string dir = testing::make_test_dir();
  const std::string data = train_tiny_run(dir, "1.0");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string checkpoint = dir + "/run/checkpoints/last.pt";
  const auto predicted = run("predict --checkpoint " + checkpoint + " --checkpoint " + checkpoint +
                             " " + data + "/0_real/real_0.jpg " + data + "/1_fake/fake_0.jpg " +
                             dir + "/missing.jpg --json " + dir + "/out.json");
  ASSERT_EQ(predicted.status, 0) << predicted.output;
  EXPECT_NE(predicted.output.find("real_0.jpg"), std::string::npos) << predicted.output;
  EXPECT_NE(predicted.output.find("fake_0.jpg"), std::string::npos) << predicted.output;
  EXPECT_NE(predicted.output.find("mean P(AI)"), std::string::npos) << predicted.output;
  EXPECT_NE(predicted.output.find("missing.jpg"), std::string::npos) << predicted.output;
  std::ifstream json_file(dir + "/out.json");
  const auto rows = nlohmann::json::parse(json_file);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["models"].size(), 2u);
  EXPECT_TRUE(rows[0].contains("mean_probability_fake"));
  EXPECT_TRUE(rows[2]["models"][0].contains("error"));
}

// quantize a tiny run's checkpoint, then predict with it: int8 by default (auto), fp32 on
// request, and a float checkpoint asked for int8 is refused with the command that fixes it.
TEST(CliIntegration, QuantizedCheckpointPredictsInInt8) {
  const std::string dir = testing::make_test_dir();
  const std::string data = train_tiny_run(dir, "0.5/0.0/0.5");
  ASSERT_FALSE(::testing::Test::HasFailure());
  const std::string checkpoint = dir + "/run/checkpoints/last.pt";
  const std::string image = data + "/1_fake/fake_0.jpg";

  expect_failure_mentioning(
      run("predict --precision int8 --checkpoint " + checkpoint + " " + image),
      "forensight quantize");
  expect_failure_mentioning(
      run("predict --precision int16 --checkpoint " + checkpoint + " " + image), "int8");

  const auto quantized = run("quantize --checkpoint " + checkpoint + " --data " + data + " --out " +
                             dir + "/int8.pt --workers 0 --json " + dir + "/quantize.json");
  ASSERT_EQ(quantized.status, 0) << quantized.output;
  std::ifstream report_file(dir + "/quantize.json");
  const auto report = nlohmann::json::parse(report_file);
  EXPECT_EQ(report["images"].get<int>(), 4);  // the run's test split
  EXPECT_EQ(report["calibration_points"].get<int>(), 28);
  EXPECT_GE(report["verdict_agreement"].get<double>(), 0.0);
  EXPECT_TRUE(report.contains("int8") && report["int8"].contains("accuracy")) << report.dump();

  for (const std::string precision : {"auto", "fp32"}) {
    const auto predicted = run("predict --precision " + precision + " --checkpoint " + dir +
                               "/int8.pt " + image + " --json " + dir + "/" + precision + ".json");
    ASSERT_EQ(predicted.status, 0) << predicted.output;
    std::ifstream json_file(dir + "/" + precision + ".json");
    const auto rows = nlohmann::json::parse(json_file);
    ASSERT_EQ(rows.size(), 1u);
    const auto& answer = rows[0]["models"][0];
    EXPECT_EQ(answer["precision"], precision == "auto" ? "int8" : "fp32") << rows.dump();
    const double p = answer["probability_fake"].get<double>();
    EXPECT_TRUE(p >= 0.0 && p <= 1.0) << p;
  }
  expect_failure_mentioning(
      run("quantize --checkpoint " + checkpoint + " --data " + data + " --out " + checkpoint),
      "overwrite");
}

}  // namespace
}  // namespace forensight
