// Checkpoints: what one read gives back (header, weights, optimiser and RNG state), and the
// refusals that name the file.
#include "forensight/train/checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>

#include <filesystem>
#include <iterator>

#include "../support/build_paths.h"
#include "../support/error_of.h"
#include "../support/scoped_write_fault.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/checksum_trailer.h"
#include "forensight/core/crc32.h"
#include "forensight/core/error.h"

namespace forensight::train {
namespace {

Checkpoint sample_header() {
  Checkpoint c;
  c.progress = {.epoch = 2,
                .batch_in_epoch = 3,
                .step = 7,
                .best_metric = 0.25,
                .has_best = true,
                .epochs_without_improvement = 1};
  c.config_json = R"({"model": "linear"})";
  c.int8_ranges = torch::tensor({{-1.0, 2.0}, {0.0, 6.0}}, torch::kFloat64);
  return c;
}

}  // namespace

TEST(CheckpointTest, OneReaderGivesTheHeaderWeightsOptimiserAndRngState) {
  const std::string path = testing::make_test_dir() + "/c.pt";
  torch::manual_seed(3);
  torch::nn::Linear saved(4, 2);
  torch::optim::Adam saved_optimizer(saved->parameters(), torch::optim::AdamOptions(0.1));
  saved->forward(torch::randn({5, 4})).sum().backward();
  saved_optimizer.step();
  save_checkpoint(path, *saved, &saved_optimizer, sample_header());
  const torch::Tensor next_draw = torch::randn({3});  // the generator as saved, one draw later

  torch::nn::Linear loaded(4, 2);
  torch::optim::Adam loaded_optimizer(loaded->parameters(), torch::optim::AdamOptions(0.1));
  CheckpointReader reader(path, torch::kCPU);
  const Checkpoint& header = reader.header();
  EXPECT_EQ(reader.path(), path);
  EXPECT_EQ(header.progress.epoch, 2);
  EXPECT_EQ(header.progress.batch_in_epoch, 3);
  EXPECT_EQ(header.progress.step, 7);
  EXPECT_EQ(header.progress.best_metric, 0.25);
  EXPECT_TRUE(header.progress.has_best);
  EXPECT_EQ(header.progress.epochs_without_improvement, 1);
  EXPECT_EQ(header.config_json, R"({"model": "linear"})");
  EXPECT_TRUE(torch::equal(header.int8_ranges, sample_header().int8_ranges));

  reader.load_model(*loaded);
  EXPECT_TRUE(torch::equal(loaded->weight, saved->weight));
  EXPECT_TRUE(torch::equal(loaded->bias, saved->bias));
  reader.load_optimizer(loaded_optimizer);
  const auto& state = static_cast<const torch::optim::AdamParamState&>(
      *loaded_optimizer.state().at(loaded->weight.unsafeGetTensorImpl()));
  const auto& saved_state = static_cast<const torch::optim::AdamParamState&>(
      *saved_optimizer.state().at(saved->weight.unsafeGetTensorImpl()));
  EXPECT_EQ(state.step(), 1);
  EXPECT_TRUE(torch::equal(state.exp_avg(), saved_state.exp_avg()));
  EXPECT_TRUE(torch::equal(torch::randn({3}), next_draw));  // the RNG continues where it was
}

TEST(CheckpointTest, HeaderOnlyAndWholeLoadAgreeWithTheReader) {
  const std::string path = testing::make_test_dir() + "/c.pt";
  torch::nn::Linear saved(4, 2);
  save_checkpoint(path, *saved, nullptr, sample_header());
  EXPECT_EQ(read_checkpoint_header(path).progress.step, 7);
  torch::nn::Linear loaded(4, 2);
  EXPECT_EQ(load_checkpoint(path, *loaded, nullptr, torch::kCPU).config_json,
            R"({"model": "linear"})");
  EXPECT_TRUE(torch::equal(loaded->weight, saved->weight));
}

TEST(CheckpointTest, BadFilesAndMismatchedModelsAreRefusedByName) {
  const std::string dir = testing::make_test_dir();
  EXPECT_NE(testing::error_of([&] {
              CheckpointReader(dir + "/none.pt", torch::kCPU);
            }).find("checkpoint '" + dir + "/none.pt' does not exist"),
            std::string::npos);
  std::ofstream(dir + "/text.pt") << "not an archive";
  EXPECT_NE(testing::error_of([&] {
              CheckpointReader(dir + "/text.pt", torch::kCPU);
            }).find("cannot read checkpoint '" + dir + "/text.pt'"),
            std::string::npos);

  torch::serialize::OutputArchive foreign;  // a LibTorch archive, not a Forensight checkpoint
  foreign.write("weights", torch::ones({2}));
  foreign.save_to(dir + "/foreign.pt");
  EXPECT_NE(testing::error_of([&] {
              CheckpointReader(dir + "/foreign.pt", torch::kCPU);
            }).find("not a Forensight checkpoint"),
            std::string::npos);

  torch::nn::Linear saved(4, 2);
  save_checkpoint(dir + "/c.pt", *saved, nullptr, sample_header());
  CheckpointReader reader(dir + "/c.pt", torch::kCPU);
  torch::nn::Linear wider(4, 3);
  const std::string mismatch = testing::error_of([&] { reader.load_model(*wider); });
  EXPECT_NE(mismatch.find("does not match the model"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("weight is [2, 4] in the checkpoint, [3, 4] in the model"),
            std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("bias is [2] in the checkpoint, [3] in the model"), std::string::npos)
      << mismatch;
  torch::optim::Adam optimizer(saved->parameters(), torch::optim::AdamOptions(0.1));
  const std::string no_state = testing::error_of([&] { reader.load_optimizer(optimizer); });
  EXPECT_NE(no_state.find("holds no optimiser state"), std::string::npos) << no_state;
}

// The CRC-32 trailer (issue #18): a flipped bit anywhere, a file cut short at any point or
// appended to is refused naming the file; a version-1 checkpoint from before the trailer loads.
TEST(CheckpointTest, CorruptTruncatedAndAppendedFilesAreRefusedByName) {
  const std::string dir = testing::make_test_dir();
  torch::nn::Linear saved(64, 32);
  save_checkpoint(dir + "/c.pt", *saved, nullptr, sample_header());
  std::ifstream in(dir + "/c.pt", std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(good.size(), 64u * 32 * 4);
  auto refusal = [&](const std::string& bytes) {
    std::ofstream(dir + "/bad.pt", std::ios::binary | std::ios::trunc) << bytes;
    return testing::error_of([&] { CheckpointReader(dir + "/bad.pt", torch::kCPU); });
  };
  // A bit of a weight: LibTorch alone would load it silently.
  for (size_t at : {good.size() / 2, size_t{100}, good.size() - 30}) {
    std::string flipped = good;
    flipped[at] ^= 0x04;
    const std::string error = refusal(flipped);
    EXPECT_NE(error.find("checkpoint '" + dir + "/bad.pt' is corrupt"), std::string::npos)
        << "byte " << at << ": " << error;
  }
  for (size_t keep : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 25, good.size() - 24,
                      good.size() - 1}) {
    const std::string error = refusal(good.substr(0, keep));
    EXPECT_NE(error.find(dir + "/bad.pt"), std::string::npos) << keep << " bytes: " << error;
    EXPECT_NE(error, "") << keep << " bytes kept";
  }
  EXPECT_NE(refusal(good + "appended").find("not at its end"), std::string::npos);
  EXPECT_EQ(refusal(good), "");
}

// A 12 KiB archive whose pickle declares a 4 GiB string (found by fuzz/fuzz_checkpoint.cpp): with a
// valid trailer, so that only the pickle walk (core/pickle_lengths.h) stands between it and
// LibTorch's unpickler, which would zero-fill the 4 GiB before refusing it.
TEST(CheckpointTest, PickleDeclaringMoreBytesThanItHoldsIsRefusedBeforeLibTorchAllocatesThem) {
  const std::string dir = testing::make_test_dir();
  std::ifstream in(
      testing::test_source_dir() + "/../fuzz/regressions/checkpoint/unpickler-reserves-4gib.bin",
      std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 10000u);
  const auto* payload = reinterpret_cast<const uint8_t*>(bytes.data());
  const auto trailer =
      make_checksum_trailer(bytes.size(), crc32_update(kCrc32Initial, {payload, bytes.size()}));
  bytes.append(reinterpret_cast<const char*>(trailer.data()), trailer.size());
  std::ofstream(dir + "/crafted.pt", std::ios::binary) << bytes;

  const std::string error =
      testing::error_of([&] { CheckpointReader(dir + "/crafted.pt", torch::kCPU); });
  EXPECT_NE(error.find("checkpoint '" + dir + "/crafted.pt' (record "), std::string::npos) << error;
  EXPECT_NE(error.find("but only"), std::string::npos) << error;
}

TEST(CheckpointTest, VersionOneCheckpointWithoutChecksumStillLoads) {
  const std::string path = testing::make_test_dir() + "/v1.pt";
  torch::nn::Linear saved(4, 2);
  // The fields save_checkpoint wrote before the trailer, as version 1.
  torch::serialize::OutputArchive archive;
  archive.write("forensight_checkpoint_version", c10::IValue(int64_t{1}));
  archive.write("config_json", c10::IValue(std::string(R"({"model": "linear"})")));
  archive.write("progress", torch::tensor(std::vector<int64_t>{0, 0, 5, 0, 0}));
  archive.write("best_metric", torch::tensor(0.0, torch::kFloat64));
  archive.write("cpu_rng_state", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive model_archive;
  saved->save(model_archive);
  archive.write("model", model_archive);
  archive.save_to(path);
  torch::nn::Linear loaded(4, 2);
  EXPECT_EQ(load_checkpoint(path, *loaded, nullptr, torch::kCPU).progress.step, 5);
  EXPECT_TRUE(torch::equal(loaded->weight, saved->weight));
}

TEST(CheckpointTest, FullDiskNamesTheCheckpointAndKeepsThePreviousOne) {
  const std::string dir = testing::make_test_dir();
  torch::nn::Linear saved(64, 32);
  save_checkpoint(dir + "/last.pt", *saved, nullptr, sample_header());
  Checkpoint later = sample_header();
  later.progress.step = 8;
  for (long long budget : {0LL, 1000LL, 6000LL}) {  // before, in the zip header, in the weights
    testing::ScopedWriteFault full("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", budget);
    const std::string error =
        testing::error_of([&] { save_checkpoint(dir + "/last.pt", *saved, nullptr, later); });
    EXPECT_NE(error.find("cannot write '" + dir + "/last.pt'"), std::string::npos) << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  }
  EXPECT_EQ(read_checkpoint_header(dir + "/last.pt").progress.step, 7);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                          std::filesystem::directory_iterator()),
            1)
      << "a temporary file was left behind";
}

}  // namespace forensight::train
