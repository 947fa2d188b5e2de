// Leave-one-family-out end to end: `train --hold-out-source` keeps that source out of training and
// validation and tests on it, an unknown source is refused naming the sources found, and
// `generalise` runs one training per family and writes the matrix.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "../support/cli.h"
#include "../support/tiny_dataset.h"

namespace forensight {
namespace {

using Outcome = testing::CliOutcome;
constexpr auto& run = testing::run_forensight;

using testing::read_json;

// The tiny set's 8 real images as source "photos", its fakes 0-3 as "famA" and 4-7 as "famB".
std::string families_csv(const std::string& dir) {
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 8});
  std::ofstream csv(data + "/families.csv");
  csv << "file_name,label,source\n";
  for (int i = 0; i < 8; ++i) csv << "0_real/real_" << i << ".jpg,0,photos\n";
  for (int i = 0; i < 8; ++i)
    csv << "1_fake/fake_" << i << ".jpg,1," << (i < 4 ? "famA" : "famB") << "\n";
  return data + "/families.csv";
}

const std::string kTiny =
    " --image-size 32 --batch-size 4 --max-steps 2 --split 0.5/0.25/0.25 --workers 0 --threads 1";

TEST(GeneraliseIntegration, HeldOutSourceIsOnlyTestedOn) {
  const std::string dir = testing::make_test_dir();
  const std::string csv = families_csv(dir);
  const Outcome trained =
      run("train --data " + csv + " --out " + dir + "/run --hold-out-source famB" + kTiny);
  ASSERT_EQ(trained.status, 0) << trained.output;
  EXPECT_NE(trained.output.find("held-out source famB: accuracy"), std::string::npos)
      << trained.output;
  EXPECT_EQ(read_json(dir + "/run/config.json")["hold-out-source"], "famB");

  const nlohmann::json split = read_json(dir + "/run/split.json")["splits"];
  auto count_famb = [](const nlohmann::json& paths) {
    int n = 0;
    for (const auto& p : paths) {
      const std::string path = p.get<std::string>();
      for (int i = 4; i < 8; ++i)
        n += path.find("fake_" + std::to_string(i) + ".jpg") != std::string::npos;
    }
    return n;
  };
  EXPECT_EQ(count_famb(split["train"]["paths"]), 0);
  EXPECT_EQ(count_famb(split["val"]["paths"]), 0);
  EXPECT_EQ(count_famb(split["test"]["paths"]), 4);

  const nlohmann::json report = read_json(dir + "/run/report.json");
  EXPECT_EQ(report["held_out"]["source"], "famB");
  EXPECT_EQ(report["held_out"]["count_fake"], 4);
  EXPECT_GT(report["held_out"]["count_real"].get<int>(), 0);
  EXPECT_TRUE(report["held_out"].contains("average_precision"));
}

TEST(GeneraliseIntegration, UnknownSourceIsRefusedNamingTheSourcesFound) {
  const std::string dir = testing::make_test_dir();
  const std::string csv = families_csv(dir);
  const Outcome o =
      run("train --data " + csv + " --out " + dir + "/run --hold-out-source famC" + kTiny);
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.output.find("'famC'"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("famA, famB, photos"), std::string::npos) << o.output;
}

TEST(GeneraliseIntegration, RefusesWhatCannotMakeAMatrix) {
  const std::string dir = testing::make_test_dir();
  const std::string csv = families_csv(dir);
  const Outcome unknown =
      run("generalise --data " + csv + " --out " + dir + "/gen --families famA,famZ" + kTiny);
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.output.find("'famZ'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("famA, famB"), std::string::npos) << unknown.output;
  const Outcome fixed =
      run("generalise --data " + csv + " --out " + dir + "/gen --hold-out-source famA" + kTiny);
  EXPECT_NE(fixed.status, 0);
  EXPECT_NE(fixed.output.find("--families"), std::string::npos) << fixed.output;

  // One family only: holding it out would leave nothing AI-generated to train on.
  std::ofstream(dir + "/data/one.csv")
      << "file_name,label,source\n0_real/real_0.jpg,0,photos\n1_fake/fake_0.jpg,1,famA\n";
  const Outcome one =
      run("generalise --data " + dir + "/data/one.csv --out " + dir + "/gen1" + kTiny);
  EXPECT_NE(one.status, 0);
  EXPECT_NE(one.output.find("at least two"), std::string::npos) << one.output;
}

TEST(GeneraliseIntegration, WritesTheLeaveOneFamilyOutMatrix) {
  const std::string dir = testing::make_test_dir();
  const std::string csv = families_csv(dir);
  const Outcome o = run("generalise --data " + csv + " --out " + dir + "/gen" + kTiny);
  ASSERT_EQ(o.status, 0) << o.output;
  std::stringstream matrix;
  matrix << std::ifstream(dir + "/gen/matrix.csv").rdbuf();
  const std::string text = matrix.str();
  EXPECT_EQ(text.rfind("held_out,test_family,unseen,", 0), 0u) << text;
  for (const std::string row : {"famA,famA,1,", "famA,famB,0,", "famB,famA,0,", "famB,famB,1,"})
    EXPECT_NE(text.find(row), std::string::npos) << row << " in\n" << text;
  EXPECT_EQ(read_json(dir + "/gen/hold-out-famA/config.json")["hold-out-source"], "famA");
  EXPECT_NE(o.output.find("unseen family: mean accuracy"), std::string::npos) << o.output;

  // A rerun keeps the finished runs.
  const Outcome again = run("generalise --data " + csv + " --out " + dir + "/gen" + kTiny);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("finished before"), std::string::npos) << again.output;
}

}  // namespace
}  // namespace forensight
