// The run fingerprint the ranks compare before training: what differs is named with the rank and
// the values, what may differ per rank is not compared, and the model and data parts change
// exactly when the architecture, the initial weights, the samples or the split do.
#include "forensight/parallel/run_fingerprint.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "forensight/data/split.h"
#include "forensight/parallel/distribution.h"
#include "forensight/train/train_option_table.h"

namespace forensight::parallel {
namespace {

RunFingerprint fingerprint_of(const train::TrainOptions& options) {
  return RunFingerprint{.config = train::train_options_shared_by_ranks(options),
                        .model = {{"tensors", 3}, {"weights_crc32", "0000abcd"}},
                        .dataset = {{"samples", 24}, {"train_crc32", "12345678"}}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RunFingerprint, IdenticalRanksAgree) {
  const train::TrainOptions options;
  EXPECT_TRUE(fingerprint_differences({fingerprint_of(options)}).empty());
  EXPECT_TRUE(fingerprint_differences({fingerprint_of(options), fingerprint_of(options)}).empty());
}

TEST(RunFingerprint, ADifferentOptionIsNamedWithTheRankAndBothValues) {
  train::TrainOptions options, other = options;
  other.lr = 0.1;
  options.lr = 0.05;
  const auto differences = fingerprint_differences(
      {fingerprint_of(options), fingerprint_of(options), fingerprint_of(other)});
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0],
            "rank 2 differs from rank 0 in its config (lr: 0.05 on rank 0, 0.1 on rank 2)");
}

TEST(RunFingerprint, PerRankOptionsAreNotCompared) {
  train::TrainOptions options, other = options;
  other.data_path = "/mnt/node1/data";
  other.out_dir = "/mnt/node1/run";
  other.init_weights = "/mnt/node1/init.pt";
  other.device = "cuda:3";
  other.threads = 7;
  other.workers = 5;
  other.stages = "cuda:2,cuda:3";
  other.eval_batch_size = 64;
  other.log_every_steps = 1;
  other.checkpoint_every_steps = 10;
  other.collective_timeout_s = 30;
  EXPECT_TRUE(fingerprint_differences({fingerprint_of(options), fingerprint_of(other)}).empty());
  // ... and everything that changes what is computed is.
  other.seed = 4;
  other.optimizer = "sgd";
  const auto differences =
      fingerprint_differences({fingerprint_of(options), fingerprint_of(other)});
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_EQ(differences[0],
            "rank 1 differs from rank 0 in its config (optimizer: 'adam' on rank 0, 'sgd' on rank "
            "1; seed: 0 on rank 0, 4 on rank 1)");
}

TEST(RunFingerprint, EveryDifferingPartAndRankIsNamed) {
  const train::TrainOptions options;
  RunFingerprint model = fingerprint_of(options), data = fingerprint_of(options);
  model.model["weights_crc32"] = "ffff0000";
  data.dataset["samples"] = 16;
  data.dataset.erase("train_crc32");
  data.config["batch-size"] = 8;
  const auto differences =
      fingerprint_differences({fingerprint_of(options), model, fingerprint_of(options), data});
  ASSERT_EQ(differences.size(), 2u) << differences[0];
  EXPECT_EQ(differences[0],
            "rank 1 differs from rank 0 in its model (weights_crc32: '0000abcd' on rank 0, "
            "'ffff0000' on rank 1)");
  EXPECT_EQ(differences[1],
            "rank 3 differs from rank 0 in its config (batch-size: 32 on rank 0, 8 on rank 3) and "
            "its dataset (samples: 24 on rank 0, 16 on rank 3; train_crc32: '12345678' on rank 0, "
            "absent on rank 3)");
}

TEST(RunFingerprint, ManyDifferencesAreCounted) {
  train::TrainOptions options, other = options;
  other.lr = 1;
  other.epochs = 9;
  other.batch_size = 3;
  other.momentum = 0.1;
  other.model = "vit-tiny";
  const auto differences =
      fingerprint_differences({fingerprint_of(options), fingerprint_of(other)});
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_TRUE(contains(differences[0], "batch-size: 32 on rank 0, 3 on rank 1")) << differences[0];
  EXPECT_TRUE(contains(differences[0], "; and 2 more)")) << differences[0];
}

TEST(RunFingerprint, TravelsAsTextAndRefusesWhatIsNotOne) {
  const RunFingerprint sent = fingerprint_of(train::TrainOptions{});
  const RunFingerprint received = RunFingerprint::from_string(sent.to_string(), 3);
  EXPECT_EQ(received.config, sent.config);
  EXPECT_EQ(received.model, sent.model);
  EXPECT_EQ(received.dataset, sent.dataset);
  for (const std::string bad : {"", "{\"config\": {}}", "[1, 2]",
                                "{\"config\": 1, \"model\": {}, "
                                "\"dataset\": {}}"}) {
    try {
      RunFingerprint::from_string(bad, 3);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "rank 3 sent a run fingerprint")) << e.what();
    }
  }
}

struct TwoLayers : torch::nn::Module {
  explicit TwoLayers(int64_t hidden) {
    a = register_module("a", torch::nn::Linear(4, hidden));
    b = register_module("b", torch::nn::Linear(hidden, 2));
    register_buffer("statistics", torch::zeros({2}));
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
};

TEST(RunFingerprint, ModelPartChangesWithTheWeightsOrTheArchitecture) {
  torch::manual_seed(5);
  TwoLayers first(8);
  torch::manual_seed(5);
  TwoLayers same(8);
  torch::manual_seed(6);
  TwoLayers reinitialised(8);
  torch::manual_seed(5);
  TwoLayers wider(9);
  const nlohmann::json f = model_fingerprint(first);
  EXPECT_EQ(f["tensors"], 5);  // 2 weights, 2 biases, 1 buffer
  EXPECT_EQ(f["values"], 4 * 8 + 8 + 8 * 2 + 2 + 2);
  EXPECT_EQ(f, model_fingerprint(same));

  const nlohmann::json r = model_fingerprint(reinitialised);
  EXPECT_EQ(r["layout_crc32"], f["layout_crc32"]);
  EXPECT_NE(r["weights_crc32"], f["weights_crc32"]);

  const nlohmann::json w = model_fingerprint(wider);
  EXPECT_NE(w["layout_crc32"], f["layout_crc32"]);
  EXPECT_NE(w["values"], f["values"]);

  // A buffer counts too (BatchNorm's running statistics, when an --init file brings them).
  {
    torch::NoGradGuard no_grad;
    same.named_buffers()["statistics"].fill_(1.0f);
  }
  EXPECT_NE(model_fingerprint(same)["weights_crc32"], f["weights_crc32"]);
}

// `count` samples named 0.jpg, 1.jpg, ... under `root`, labels alternating.
data::Dataset dataset_of(int count, const std::string& root) {
  data::Dataset dataset;
  dataset.root = root;
  for (int i = 0; i < count; ++i)
    dataset.samples.push_back({fmt::format("{}/{}.jpg", root, i), i % 2, "", ""});
  return dataset;
}

TEST(RunFingerprint, DataPartIgnoresWhereTheDataIsMountedButNotWhatItHolds) {
  const data::Dataset here = dataset_of(20, "/data/set"), there = dataset_of(20, "/mnt/x");
  const data::SplitSpec spec = data::parse_split_spec("10/10/0");
  const data::Split split = data::make_split(here, spec, 1);
  const nlohmann::json f = data::split_fingerprint(split, here);
  EXPECT_EQ(f["samples"], 20);
  EXPECT_EQ(f["train_size"], 10);
  EXPECT_EQ(f, data::split_fingerprint(split, there));

  data::Dataset relabelled = here;
  relabelled.samples[0].label = 1 - relabelled.samples[0].label;
  EXPECT_NE(data::split_fingerprint(split, relabelled)["samples_crc32"], f["samples_crc32"]);
  EXPECT_NE(data::split_fingerprint(split, dataset_of(21, "/data/set"))["samples"], f["samples"]);

  const data::Split reseeded = data::make_split(here, spec, 2);
  ASSERT_NE(reseeded.train(), split.train());
  const nlohmann::json g = data::split_fingerprint(reseeded, here);
  EXPECT_EQ(g["samples_crc32"], f["samples_crc32"]);
  EXPECT_NE(g["train_crc32"], f["train_crc32"]);
}

TEST(RunFingerprint, OneProcessComputesNothing) {
  Distribution one(DistributionOptions{});
  bool computed = false;
  one.check_ranks_agree([&] {
    computed = true;
    return RunFingerprint{};
  });
  EXPECT_FALSE(computed);
}

}  // namespace
}  // namespace forensight::parallel
