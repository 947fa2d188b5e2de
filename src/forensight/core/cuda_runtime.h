// LibTorch's CUDA half, loaded on demand. Forensight links only LibTorch's CPU libraries; the CUDA
// ones (libtorch_cuda.so and the CUDA, cuDNN, cuBLAS and NCCL libraries it needs) are opened when a
// command names a CUDA device. Measured on the 2-core dev VM: linking them cost every process
// 0.35 s at start and 350 MB of resident memory (their relocations and static registrations),
// a third of `forensight predict` on one image, with nothing gained on a CPU.
#pragma once
#include <string>

namespace forensight {

struct CudaRuntime {
  bool loaded = false;  // libtorch_cuda.so is in this process: CUDA kernels and hooks registered
  std::string library;  // the path it was (or would have been) opened from
  std::string error;    // why it is not loaded, when it is not
};

// Opens libtorch_cuda.so from the folder LibTorch's CPU library was loaded from, once per process
// (later calls return the first call's result). A CPU-only LibTorch has no such file, which is an
// error here, not a crash. Whether a GPU is present is a separate question: torch::cuda::
// device_count() answers it once this has loaded. Call this before anything asks LibTorch about
// CUDA (torch::manual_seed, torch::cuda::is_available or device_count): LibTorch keeps the first
// CUDA hooks it is asked for, and asked before the load it keeps "no CUDA" for the life of the
// process; a load after that is refused here with an error that says so.
const CudaRuntime& load_cuda_runtime();

}  // namespace forensight
