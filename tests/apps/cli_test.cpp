// The forensight executable's error paths: every bad input ends with a clear message that names
// the thing and the reason, and a non-zero exit — never a crash or a silent success.
#include <gtest/gtest.h>

#include <fstream>

#include "../support/tiny_dataset.h"

namespace forensight {
namespace {

struct Outcome {
  int status;
  std::string output;
};

Outcome run(const std::string& arguments) {
  Outcome o;
  o.status = testing::run_command(std::string(FORENSIGHT_BINARY) + " " + arguments, &o.output);
  return o;
}

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
