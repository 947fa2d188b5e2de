// A dataset with ~10 % damaged files (issue #18 section 5) trains to completion through the
// forensight executable, and every damaged file is reported with its reason in the log and in
// the run directory's skipped.csv.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "../support/bad_files.h"
#include "../support/build_paths.h"
#include "../support/tiny_dataset.h"

namespace forensight::train {
namespace {

TEST(DataFaultsIntegration, DamagedFilesAreSkippedAndReportedAndTrainingFinishes) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(
      dir + "/data", {.images_per_class = 20, .size_px = 40, .write_csv = false});
  const auto bad = testing::write_bad_files(data + "/1_fake", "bad-", data + "/0_real/real_0.jpg");
  ASSERT_EQ(bad.size(), 5u);  // 5 of 45 files
  std::string output;
  const int status = testing::run_command(
      std::string(forensight::testing::forensight_binary()) + " train --data " + data + " --out " +
          dir +
          "/run --model vit-tiny --vit-layers 1 --image-size 32 --size-mode resize "
          "--batch-size 8 --split 0.8/0.2/0 --epochs 2 --workers 2 --threads 2 --seed 3",
      &output);
  ASSERT_EQ(status, 0) << output;

  std::ifstream csv(dir + "/run/skipped.csv");
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "path,split,epoch,reason");
  std::map<std::string, std::string> rows;  // path -> the rest of the row
  while (std::getline(csv, line)) {
    const size_t comma = line.find(',');
    ASSERT_NE(comma, std::string::npos) << line;
    EXPECT_TRUE(rows.emplace(line.substr(0, comma), line.substr(comma + 1)).second)
        << "reported twice: " << line;
  }
  EXPECT_EQ(rows.size(), bad.size());
  for (const auto& file : bad) {
    ASSERT_TRUE(rows.count(file.path)) << file.kind << " file missing from skipped.csv";
    const std::string& row = rows.at(file.path);
    EXPECT_TRUE(row.rfind("train,0,", 0) == 0 || row.rfind("val,0,", 0) == 0) << row;
    EXPECT_GT(row.size(), std::string("train,0,").size() + 5) << "no reason: " << row;
    EXPECT_NE(output.find("skipping '" + file.path + "'"), std::string::npos)
        << file.kind << " not in the log";
  }
}

}  // namespace
}  // namespace forensight::train
