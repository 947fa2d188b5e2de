// GPU memory accounting from LibTorch's CUDA caching allocator: peak allocated and reserved bytes,
// the figures the metrics log and benchmarks report. Zero on CPU devices, CPU-only LibTorch and
// LibTorch < 2.9 (whose allocator has no device-generic interface).
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace forensight {

struct GpuMemory {
  int64_t peak_allocated_bytes = 0;
  int64_t peak_reserved_bytes = 0;
};

GpuMemory gpu_memory(const torch::Device& device);
void reset_gpu_peak_memory(const torch::Device& device);

}  // namespace forensight
