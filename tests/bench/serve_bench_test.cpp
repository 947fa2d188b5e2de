// `bench serve` on a tiny untrained ResNet18 (32 px) for a fraction of a second per point, without
// the Python peer: the built `forensight serve` starts, answers every image, and the JSON holds
// every figure with throughput and no errors.
#include "bench/serve_bench.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../support/build_paths.h"
#include "../support/tiny_dataset.h"
#include "bench/http_load.h"
#include "forensight/models/registry.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/train_options.h"

namespace forensight::bench {
namespace {

// An untrained ResNet18 at 32 px, written as `forensight train` writes a checkpoint.
std::string write_tiny_checkpoint(const std::string& path) {
  train::TrainOptions options;
  options.model = "resnet18";
  options.image_size_px = 32;
  torch::manual_seed(1);
  auto net = models::create_model(train::model_options(options));
  train::Checkpoint checkpoint;
  checkpoint.config_json = train::train_options_to_json(options).dump();
  train::save_checkpoint(path, *net, nullptr, checkpoint);
  return path;
}

TEST(ServeBenchIntegration, MeasuresEveryServerAtEveryConcurrencyWithoutErrors) {
  if (!http_load_available()) GTEST_SKIP() << "built without cpp-httplib";
  const std::string dir = testing::make_test_dir();
  ServeBenchOptions options;
  options.checkpoint = write_tiny_checkpoint(dir + "/tiny.pt");
  options.precisions = {"int8", "fp32"};
  options.concurrency = {1, 4};
  options.warmup_s = 0.1;
  options.duration_s = 0.4;
  options.images = 4;
  options.image_size_px = 48;
  options.threads = 1;
  options.offline_images = 8;
  options.skip_python = true;
  options.work_dir = dir + "/work";
  options.binary = forensight::testing::forensight_binary();
  const nlohmann::json result = run_serve_bench(options);

  for (const char* field :
       {"cpu", "threads", "concurrency", "images", "model", "servers", "offline", "targets"})
    EXPECT_TRUE(result.contains(field)) << field << "\n" << result.dump(2);
  EXPECT_TRUE(result["cpu"].contains("model_name"));
  ASSERT_EQ(result["servers"].size(), 4u) << result.dump(2);  // int8, fp32 x batched, unbatched
  for (const auto& server : result["servers"]) {
    EXPECT_EQ(server["exit_status"], 0) << server.dump(2);
    ASSERT_EQ(server["points"].size(), 2u) << server.dump(2);
    for (const auto& point : server["points"]) {
      for (const char* field :
           {"concurrency", "requests", "errors", "images_per_s", "p50_ms", "p90_ms", "p99_ms"})
        EXPECT_TRUE(point.contains(field)) << field << "\n" << point.dump(2);
      EXPECT_GT(point["images_per_s"].get<double>(), 0.0) << server["name"];
      EXPECT_GT(point["requests"].get<int64_t>(), 0) << server["name"];
      EXPECT_EQ(point["errors"].get<int64_t>(), 0) << point.dump(2);
      EXPECT_LE(point["p50_ms"].get<double>(), point["p99_ms"].get<double>());
      // Both sides of the load spent CPU (the server decoded and ran every image, the client
      // sent them), each a share of the machine in (0, 1]; shares of one span add to <= 1 plus
      // the clock's granularity (10 ms ticks on the server's side).
      const double wall = point["wall_s"].get<double>();
      EXPECT_GT(wall, 0.0);
      EXPECT_GT(point["client_cpu_s"].get<double>(), 0.0) << point.dump(2);
      ASSERT_TRUE(point["server_cpu_s"].is_number()) << point.dump(2);
      EXPECT_GT(point["server_cpu_s"].get<double>(), 0.0) << point.dump(2);
      const double shares =
          point["client_cpu_share"].get<double>() + point["server_cpu_share"].get<double>();
      EXPECT_GT(shares, 0.0);
      EXPECT_LE(shares, 1.0 + 0.05 / wall) << point.dump(2);
    }
  }
  EXPECT_EQ(result["servers"][0]["engine"].get<std::string>().substr(0, 4), "int8");
  ASSERT_EQ(result["offline"].size(), 2u);
  for (const auto& offline : result["offline"])
    EXPECT_GT(offline["images_per_s"].get<double>(), 0.0);
  // Batched against unbatched and served against offline, per engine; no Python, no p99 point.
  EXPECT_EQ(result["targets"].size(), 4u) << result["targets"].dump(2);
  for (const auto& target : result["targets"]) {  // served vs offline names each side's CPU share
    if (target["unit"] == "share") {
      EXPECT_NE(target.value("note", "").find("load generator"), std::string::npos) << target;
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace forensight::bench
