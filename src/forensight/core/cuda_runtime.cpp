#include "forensight/core/cuda_runtime.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <filesystem>
#include <typeinfo>

namespace forensight {
namespace {

CudaRuntime open_cuda_runtime() {
  CudaRuntime runtime;
  // Any function defined in libtorch_cpu.so names the folder LibTorch lives in.
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&at::globalContext), &info) == 0 ||
      info.dli_fname == nullptr) {
    runtime.error = "cannot tell where LibTorch's CPU library was loaded from (dladdr failed)";
    return runtime;
  }
  const std::filesystem::path cpu_library = std::filesystem::absolute(info.dli_fname);
  runtime.library = (cpu_library.parent_path() / "libtorch_cuda.so").string();
  if (!std::filesystem::exists(runtime.library)) {
    runtime.error =
        fmt::format("this LibTorch was built without CUDA (no libtorch_cuda.so next to {})",
                    cpu_library.string());
    return runtime;
  }
  // RTLD_GLOBAL: its kernels, hooks and allocator register themselves with the already-loaded
  // CPU libraries through static constructors, as they would had it been linked.
  if (dlopen(runtime.library.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    runtime.error = fmt::format("cannot load {}: {}", runtime.library, why ? why : "unknown error");
    return runtime;
  }
  // LibTorch keeps the first CUDA hooks anything asked for (at::detail::getCUDAHooks, a static):
  // asked before this dlopen (torch::manual_seed and torch::cuda::is_available both ask), it
  // kept the CPU-only stub, and CUDA stays unavailable in this process whatever is loaded now.
  if (typeid(at::detail::getCUDAHooks()) == typeid(at::CUDAHooksInterface)) {
    runtime.error = fmt::format(
        "{} loaded, but this process had already asked LibTorch about CUDA before it was loaded "
        "and LibTorch keeps that first answer (no CUDA): open the CUDA runtime "
        "(core/cuda_runtime.h) before seeding or querying CUDA",
        runtime.library);
    return runtime;
  }
  runtime.loaded = true;
  return runtime;
}

}  // namespace

const CudaRuntime& load_cuda_runtime() {
  static const CudaRuntime runtime = open_cuda_runtime();  // thread-safe, once
  return runtime;
}

}  // namespace forensight
