// The trainer end to end on tiny images: it can overfit, a resumed run continues exactly where an
// uninterrupted one would be, and the run directory holds what it promises.
#include "forensight/train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/run_files.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/error.h"
#include "forensight/train/train_option_table.h"

namespace forensight::train {
namespace {

TrainOptions tiny_options(const std::string& data, const std::string& out) {
  TrainOptions o;
  o.data_path = data;
  o.out_dir = out;
  o.model = "resnet18";
  o.image_size_px = 32;
  o.size_mode = "resize";
  o.hflip_prob = 0.0;
  o.optimizer = "adam";
  o.lr = 1e-3;
  o.batch_size = 8;
  o.split = "1.0/0.0/0.0";
  o.workers = 1;
  o.threads = 2;
  o.log_every_steps = 1;
  o.seed = 7;
  return o;
}

TEST(TrainerIntegration, OverfitsSixteenImages) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 8});
  TrainOptions o = tiny_options(data, dir + "/run");
  o.batch_size = 16;
  o.epochs = 40;
  o.checkpoint_every_epochs = 0;  // 40 numbered 134 MB checkpoints would fill 5.4 GB of disk
  const auto result = train(o, train_options_to_json(o), /*resume=*/false);
  const auto losses = testing::step_losses(dir + "/run/metrics.jsonl");
  ASSERT_EQ(losses.size(), 40u);
  EXPECT_GT(losses.front().second, 0.3) << "the first loss should be near ln 2";
  EXPECT_LT(losses.back().second, 0.05) << "16 images should be memorised in 40 steps";
  EXPECT_EQ(result.steps, 40);
}

TEST(TrainerIntegration, ResumedRunMatchesUninterruptedRun) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 12});
  TrainOptions o = tiny_options(data, dir + "/full");
  o.epochs = 2;        // 24 images / 8 = 3 steps per epoch
  o.hflip_prob = 0.5;  // random augmentation must replay identically too
  train(o, train_options_to_json(o), false);

  TrainOptions interrupted = o;
  interrupted.out_dir = dir + "/resumed";
  interrupted.max_steps = 4;  // stops inside the second epoch
  train(interrupted, train_options_to_json(interrupted), false);
  interrupted.max_steps = 0;
  const auto result = train(interrupted, train_options_to_json(interrupted), /*resume=*/true);
  EXPECT_EQ(result.steps, 6);

  const auto full = testing::step_losses(dir + "/full/metrics.jsonl");
  const auto resumed = testing::step_losses(dir + "/resumed/metrics.jsonl");
  ASSERT_EQ(full.size(), 6u);
  ASSERT_EQ(resumed.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(resumed[i].first, full[i].first);
    EXPECT_DOUBLE_EQ(resumed[i].second, full[i].second) << "step " << full[i].first;
  }
}

TEST(TrainerIntegration, RunDirectoryHoldsConfigSplitCheckpointsAndReport) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 10});
  TrainOptions o = tiny_options(data + "/train.csv", dir + "/run");
  o.split = "0.6/0.2/0.2";
  o.epochs = 2;
  const auto result = train(o, train_options_to_json(o), false);
  for (const char* file : {"config.json", "split.json", "metrics.jsonl", "report.json", "report.md",
                           "checkpoints/last.pt", "checkpoints/best.pt", "checkpoints/epoch-1.pt",
                           "checkpoints/epoch-2.pt"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/run/" + file)) << file;
  EXPECT_TRUE(result.final_metrics.contains("accuracy"));
  // The saved config reads back to the same options.
  std::ifstream config_file(dir + "/run/config.json");
  const TrainOptions reread = train_options_from_json(nlohmann::json::parse(config_file), "config");
  EXPECT_EQ(reread.split, o.split);
  EXPECT_EQ(reread.image_size_px, o.image_size_px);
  EXPECT_EQ(reread.seed, o.seed);
}

TEST(TrainerIntegration, RefusesToOverwriteAnExistingRun) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 4});
  TrainOptions o = tiny_options(data, dir + "/run");
  o.max_steps = 1;
  train(o, train_options_to_json(o), false);
  try {
    train(o, train_options_to_json(o), false);
    FAIL() << "a second run into the same directory was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace forensight::train
