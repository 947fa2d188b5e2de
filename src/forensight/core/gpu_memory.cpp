#include "forensight/core/gpu_memory.h"

#include <torch/version.h>

// c10's device-generic allocator interface arrived in LibTorch 2.9; older ones report zeros.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#include <c10/core/CachingDeviceAllocator.h>
#define FORENSIGHT_HAS_DEVICE_ALLOCATOR 1
#endif

namespace forensight {
#ifdef FORENSIGHT_HAS_DEVICE_ALLOCATOR
namespace {

// The CUDA caching allocator, through c10's device-generic interface: it lives in libc10_cuda.so,
// which Forensight does not link (core/cuda_runtime.h), and registers itself when that is loaded.
c10::DeviceAllocator* cuda_allocator(const torch::Device& device) {
  if (!device.is_cuda() || !torch::cuda::is_available()) return nullptr;
  return c10::getDeviceAllocator(c10::DeviceType::CUDA);
}

}  // namespace

GpuMemory gpu_memory(const torch::Device& device) {
  GpuMemory memory;
  if (c10::DeviceAllocator* allocator = cuda_allocator(device)) {
    const auto stats = allocator->getDeviceStats(device.index());
    constexpr size_t aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    memory.peak_allocated_bytes = stats.allocated_bytes[aggregate].peak;
    memory.peak_reserved_bytes = stats.reserved_bytes[aggregate].peak;
  }
  return memory;
}

void reset_gpu_peak_memory(const torch::Device& device) {
  if (c10::DeviceAllocator* allocator = cuda_allocator(device))
    allocator->resetPeakStats(device.index());
}
#else
GpuMemory gpu_memory(const torch::Device&) {
  return {};
}
void reset_gpu_peak_memory(const torch::Device&) {}
#endif

}  // namespace forensight
