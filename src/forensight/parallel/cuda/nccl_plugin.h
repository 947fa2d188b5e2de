// The C interface between forensight_lib and the CUDA plug-in libforensight_cuda.so (built from
// parallel/cuda/nccl_backend.cpp). The plug-in is the only code compiled against ProcessGroupNCCL
// and linked to libtorch_cuda.so; forensight_lib opens it with dlopen when a rank trains on a GPU
// (parallel/nccl_loader.h), so a CPU run never loads CUDA. Both sides compile this header: change
// kNcclPluginAbiVersion whenever ForensightNcclArgs or the factory's signature changes.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <cstddef>
#include <cstdint>

namespace forensight::parallel {

inline constexpr int kNcclPluginAbiVersion = 1;
inline constexpr const char* kNcclPluginFile = "libforensight_cuda.so";
inline constexpr const char* kNcclPluginFactory = "forensight_create_nccl_backend";

}  // namespace forensight::parallel

extern "C" {

struct ForensightNcclArgs {
  int abi_version = forensight::parallel::kNcclPluginAbiVersion;  // the caller's version
  const c10::intrusive_ptr<c10d::Store>* store = nullptr;  // shared by every rank (a PrefixStore)
  int rank = 0;                                            // in [0, size)
  int size = 1;                                            // ranks in the group
  int64_t timeout_ms = 300000;  // NCCL watchdog timeout of every collective
  int device_index = 0;         // this rank's GPU, cuda:device_index (made the current device)
};

// Returns 0 with *out set to a ProcessGroupNCCL bound to cuda:device_index (its communicator
// already made: every rank calls this together), or non-zero with a NUL-terminated message in
// error (truncated to error_size). Never throws.
using ForensightCreateNcclBackendFn = int (*)(const ForensightNcclArgs* args,
                                              c10::intrusive_ptr<c10d::Backend>* out, char* error,
                                              size_t error_size);

}  // extern "C"
