#include "forensight/core/device.h"

#include <fmt/ranges.h>

#include <charconv>

#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"

namespace forensight {

std::vector<std::string> available_devices() {
  std::vector<std::string> names = {"cpu"};
  if (!load_cuda_runtime().loaded) return names;
  const int n = static_cast<int>(torch::cuda::device_count());
  for (int i = 0; i < n; ++i) names.push_back(fmt::format("cuda:{}", i));
  return names;
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    int index = 0;
    if (name.size() > 4) {
      const char* begin = name.data() + 5;
      const char* end = name.data() + name.size();
      auto [ptr, ec] = std::from_chars(begin, end, index);
      FS_CHECK(name[4] == ':' && ec == std::errc() && ptr == end && index >= 0,
               "bad device '{}': expected cpu, cuda or cuda:N", name);
    }
    const CudaRuntime& cuda = load_cuda_runtime();
    FS_CHECK(cuda.loaded, "device '{}' is not available: {}", name, cuda.error);
    const auto count = static_cast<int>(torch::cuda::device_count());
    FS_CHECK(index < count, "device '{}' is not available: this machine has {}", name,
             fmt::join(available_devices(), ", "));
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  fail("bad device '{}': expected cpu, cuda or cuda:N (available: {})", name,
       fmt::join(available_devices(), ", "));
}

void set_thread_counts(int intra_op_threads, int interop_threads) {
  if (interop_threads > 0) {
    try {
      torch::set_num_interop_threads(interop_threads);
    } catch (const c10::Error&) {
      // already set or already used in this process: LibTorch allows it once
    }
  }
  if (intra_op_threads > 0) torch::set_num_threads(intra_op_threads);
}

}  // namespace forensight
