#include "forensight/core/device.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <typeinfo>

#include "../support/error_of.h"
#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"

namespace forensight {
namespace {

bool process_maps_torch_cuda() {
  std::ifstream maps("/proc/self/maps");
  std::stringstream text;
  text << maps.rdbuf();
  return text.str().find("libtorch_cuda.so") != std::string::npos;
}

std::string refusal(const std::string& name) {
  return testing::error_of([&] { parse_device(name); });
}

}  // namespace

// ctest runs each case in a process of its own, so this one sees a fresh process; it comes first
// in this file for runs of the whole binary in one process. It must not ask LibTorch about CUDA
// (torch::cuda::is_available): asked before libtorch_cuda.so is loaded, LibTorch answers "no
// CUDA" for the rest of the process, and the CUDA tests after it in one process would see none.
TEST(DeviceTest, CpuNeverLoadsTheCudaLibraries) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_FALSE(process_maps_torch_cuda());
}

TEST(DeviceTest, BadNamesAreRefusedWithTheValidChoices) {
  for (const std::string name : {"gpu", "cuda:x", "cuda:-1", "cuda0", "cuda:1x", ""}) {
    const std::string message = refusal(name);
    EXPECT_NE(message.find("bad device '" + name + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("cpu, cuda or cuda:N"), std::string::npos) << message;
  }
}

TEST(DeviceTest, NamingCudaLoadsTorchCudaAndItsKernels) {
  const CudaRuntime& runtime = load_cuda_runtime();
  if (!runtime.loaded) {
    // A CPU-only LibTorch: the reason names the missing library.
    EXPECT_NE(runtime.error.find("libtorch_cuda.so"), std::string::npos) << runtime.error;
    GTEST_SKIP() << runtime.error;
  }
  EXPECT_TRUE(process_maps_torch_cuda());
  EXPECT_EQ(&load_cuda_runtime(), &runtime);  // once per process
  // LibTorch's CUDA hooks are CUDA's, not the CPU-only stub it keeps when asked too early.
  EXPECT_NE(typeid(at::detail::getCUDAHooks()), typeid(at::CUDAHooksInterface));
  // Its static constructors ran: CUDA kernels are registered with the CPU library's dispatcher.
  const auto add = c10::Dispatcher::singleton().findSchemaOrThrow("aten::add", "Tensor");
  EXPECT_TRUE(add.hasKernelForDispatchKey(c10::DispatchKey::CUDA));
  EXPECT_EQ(available_devices().size(), 1 + static_cast<size_t>(torch::cuda::device_count()));
}

TEST(DeviceTest, AbsentGpuIsRefusedWithTheDevicesThisMachineHas) {
  const std::string name =
      load_cuda_runtime().loaded ? "cuda:" + std::to_string(torch::cuda::device_count()) : "cuda";
  const std::string message = refusal(name);
  EXPECT_NE(message.find("device '" + name + "' is not available"), std::string::npos) << message;
  if (load_cuda_runtime().loaded) {
    EXPECT_NE(message.find("cpu"), std::string::npos) << message;
  }
}

}  // namespace forensight
