// How many CUDA GPUs the tests may use: 0 where LibTorch has no CUDA or its CUDA libraries do not
// load (core/cuda_runtime.h opens them on the first call). Tests that need a GPU skip below their
// count; scripts/gpu-check.sh runs them on a GPU machine (its filter takes every suite with "Cuda"
// in its name).
#pragma once
#include <torch/torch.h>

#include "forensight/core/cuda_runtime.h"

namespace forensight::testing {

inline int cuda_gpu_count() {
  return load_cuda_runtime().loaded ? static_cast<int>(torch::cuda::device_count()) : 0;
}

}  // namespace forensight::testing
