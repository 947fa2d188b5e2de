// `forensight train --device cuda` end to end through the CLI. With a GPU (scripts/gpu-check.sh
// runs this on the GPU machine): a tiny ResNet18 trains in fp32, bf16 and fp16 and reports its
// test accuracy. Without one: the command is refused because there is no GPU, and for no other
// reason. That second half guards the order of things in the trainer: seeding before the CUDA
// libraries are opened leaves LibTorch without CUDA for the whole process (core/cuda_runtime.h),
// which on a GPU machine refuses every CUDA run as if it had no GPU.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "../support/build_paths.h"
#include "../support/cuda_gpus.h"
#include "../support/tiny_dataset.h"

namespace forensight::train {
namespace {

TEST(TrainCudaIntegration, TrainsOnTheGpuOrIsRefusedForWantOfOne) {
  const std::string binary = forensight::testing::forensight_binary();
  const std::string dir = forensight::testing::make_test_dir();
  std::string output;
  ASSERT_EQ(
      forensight::testing::run_command(
          fmt::format("{} data synth --out {}/data --count 48 --size 32", binary, dir), &output),
      0)
      << output;
  const bool has_gpu = forensight::testing::cuda_gpu_count() > 0;
  for (const std::string amp : {"off", "bf16", "fp16"}) {
    const int rc = forensight::testing::run_command(
        fmt::format("{} train --data {}/data --out {}/run-{} --model resnet18 --image-size 32 "
                    "--batch-size 8 --epochs 2 --workers 1 --split 0.5/0.25/0.25 --seed 1 "
                    "--checkpoint-every-epochs 0 --device cuda --amp {}",
                    binary, dir, dir, amp, amp),
        &output);
    if (has_gpu) {
      EXPECT_EQ(rc, 0) << amp << ": " << output;
      EXPECT_NE(output.find("test accuracy"), std::string::npos) << amp << ": " << output;
    } else {
      EXPECT_NE(rc, 0) << amp << ": " << output;
      EXPECT_NE(output.find("device 'cuda' is not available"), std::string::npos)
          << amp << ": " << output;
      EXPECT_EQ(output.find("already asked"), std::string::npos)
          << amp << ": LibTorch was asked about CUDA before it was loaded: " << output;
    }
  }
}

}  // namespace
}  // namespace forensight::train
