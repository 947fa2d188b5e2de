// The 3x3 convolutions' backward-by-weights of ResNet18's layers: ours (models/conv3x3.h) against
// PyTorch's (at::convolution_backward, oneDNN on the CPU; the kernel Python PyTorch runs), in the
// same process on the same tensors, alternated round by round. A function, not a main:
// `forensight bench conv` calls it and prints the table.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>

namespace forensight::bench {

struct ConvBenchOptions {
  int64_t batch_size = 32;  // images per batch
  int threads = 2;          // intra-op threads, both kernels
  int rounds = 5;           // timed calls of each kernel, alternated; medians reported
};

// One row per layer shape (ResNet18 at 224 px: 64@56 ... 512@7, stride 1 and 2). Throws Error if
// the two gradients disagree (relative difference above 1e-4) or the CPU cannot run our kernel.
nlohmann::json run_conv_bench(const ConvBenchOptions& options);

}  // namespace forensight::bench
