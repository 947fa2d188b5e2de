// The CUDA plug-in's one export: an NCCL process group (c10d::ProcessGroupNCCL) for one rank's GPU.
// It lives in its own shared library because only code linked to libtorch_cuda.so can construct
// ProcessGroupNCCL, and forensight_lib links LibTorch's CPU libraries only (core/cuda_runtime.h).
// The loader (parallel/nccl_loader.cpp) has opened libtorch_cuda.so with RTLD_GLOBAL before this.
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <type_traits>

#include "forensight/parallel/cuda/nccl_plugin.h"

namespace {

void write_error(char* error, size_t error_size, const std::string& message) {
  if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "%s", message.c_str());
}

// The factory's body; throws c10::Error (ProcessGroupNCCL, NCCL) or std::exception.
c10::intrusive_ptr<c10d::Backend> make_backend(const ForensightNcclArgs& args) {
  using forensight::parallel::kNcclPluginAbiVersion;
  TORCH_CHECK(args.abi_version == kNcclPluginAbiVersion, "the caller speaks plug-in ABI ",
              args.abi_version, ", this libforensight_cuda.so speaks ", kNcclPluginAbiVersion,
              ": rebuild Forensight so that the executable and the plug-in match");
  TORCH_CHECK(args.store != nullptr && args.store->defined(), "no store given");
  TORCH_CHECK(args.size >= 1 && args.rank >= 0 && args.rank < args.size, "rank ", args.rank,
              " is not in [0, ", args.size, ")");
  TORCH_CHECK(args.timeout_ms > 0, "the timeout must be > 0 ms, got ", args.timeout_ms);
  // device_count() answers 0 (not an exception) without a driver or a GPU.
  const int gpus = static_cast<int>(c10::cuda::device_count());
  TORCH_CHECK(gpus > 0,
              "NCCL needs a CUDA GPU and this machine has none visible (driver missing, "
              "or CUDA_VISIBLE_DEVICES empty)");
  TORCH_CHECK(args.device_index >= 0 && args.device_index < gpus, "cuda:", args.device_index,
              " is not a device of this machine (", gpus, " visible)");
  const auto device_index = static_cast<c10::DeviceIndex>(args.device_index);
  // The rank's GPU becomes the current device of the calling thread: NCCL's streams, the
  // communicator and the caching allocator's context belong to it, not to cuda:0.
  c10::cuda::set_device(device_index);

  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = std::chrono::milliseconds(args.timeout_ms);
  options->group_name = "forensight_data_parallel";
  options->group_desc = "forensight data parallel (gradients and parameters on CUDA)";
  auto backend =
      c10::make_intrusive<c10d::ProcessGroupNCCL>(*args.store, args.rank, args.size, options);
  // Bound to one device, as torch.distributed.init_process_group(device_id=...) does; the eager
  // connect makes the communicator now, while every rank is constructing its group, so that a
  // misconfiguration (two ranks on one GPU: "Duplicate GPU detected") fails here, not mid-step.
  const at::Device device(at::kCUDA, device_index);
  backend->setBoundDeviceId(device);
  backend->eagerConnectSingleDevice(device);
  return backend;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int forensight_create_nccl_backend(
    const ForensightNcclArgs* args, c10::intrusive_ptr<c10d::Backend>* out, char* error,
    size_t error_size) {
  try {
    if (args == nullptr || out == nullptr) {
      write_error(error, error_size, "forensight_create_nccl_backend: null args or out");
      return 1;
    }
    *out = make_backend(*args);
    return 0;
  } catch (const c10::Error& e) {
    write_error(error, error_size, e.what_without_backtrace());
  } catch (const std::exception& e) {
    write_error(error, error_size, e.what());
  } catch (...) {
    write_error(error, error_size, "unknown exception");
  }
  return 1;
}

// The factory's type is the one the loader casts dlsym's answer to.
static_assert(
    std::is_same_v<decltype(&forensight_create_nccl_backend), ForensightCreateNcclBackendFn>);
