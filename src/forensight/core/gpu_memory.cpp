#include "forensight/core/gpu_memory.h"

#if __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define FORENSIGHT_HAS_CUDA_ALLOCATOR 1
#endif

namespace forensight {

GpuMemory gpu_memory(const torch::Device& device) {
  GpuMemory memory;
#ifdef FORENSIGHT_HAS_CUDA_ALLOCATOR
  if (device.is_cuda() && torch::cuda::is_available()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    // StatType::AGGREGATE is index 0 in every LibTorch >= 2.4 (its namespace moved in 2.6).
    constexpr size_t aggregate = 0;
    memory.peak_allocated_bytes = stats.allocated_bytes[aggregate].peak;
    memory.peak_reserved_bytes = stats.reserved_bytes[aggregate].peak;
  }
#endif
  return memory;
}

void reset_gpu_peak_memory(const torch::Device& device) {
#ifdef FORENSIGHT_HAS_CUDA_ALLOCATOR
  if (device.is_cuda() && torch::cuda::is_available())
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#endif
}

}  // namespace forensight
