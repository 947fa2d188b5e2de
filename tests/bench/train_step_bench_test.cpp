// The training-step benchmark on a tiny configuration: our step runs and is timed for every model
// at the requested thread count, and the Python peer runs in the same call and reports its
// throughput.
#include "bench/train_step_bench.h"

#include <gtest/gtest.h>

namespace forensight::bench {
namespace {

TEST(TrainStepBenchTest, TimesOurStepForEveryModel) {
  TrainStepBenchOptions options;
  options.models = {"resnet18", "vit-tiny"};
  options.threads = {1};  // more threads only slow a test on a shared 2-core machine
  options.batch_size = 2;
  options.image_size_px = 32;
  options.timed_steps = 1;
  options.run_python = false;
  auto results = run_train_step_bench(options);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_GT(r.ours_images_per_s, 0.0) << r.model;
    EXPECT_EQ(r.ours_losses.size(), 2u) << r.model;  // one warm-up, one timed
    EXPECT_EQ(r.ratio, 0.0) << r.model;
  }
  const std::string table = format_train_step_table(results);
  EXPECT_NE(table.find("vit-tiny"), std::string::npos) << table;
  EXPECT_EQ(train_step_results_json(options, results)["results"].size(), 2u);
}

TEST(TrainStepBenchIntegration, RunsThePythonPeerInTheSameCall) {
  TrainStepBenchOptions options;
  options.models = {"vit-tiny"};
  options.threads = {1};
  options.batch_size = 2;
  options.image_size_px = 32;
  options.timed_steps = 1;
  auto results = run_train_step_bench(options);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_GT(results[0].python_images_per_s, 0.0);
  EXPECT_NEAR(results[0].ratio, results[0].ours_images_per_s / results[0].python_images_per_s,
              1e-9);
}

}  // namespace
}  // namespace forensight::bench
