// NCCL for data parallelism on CUDA, from the plug-in opened on demand. forensight_lib links
// LibTorch's CPU libraries only (core/cuda_runtime.h), so it cannot construct c10d's
// ProcessGroupNCCL itself: libforensight_cuda.so (parallel/cuda/) can, and this opens it once per
// process and calls its factory. CPU runs never get here and never load CUDA.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <filesystem>
#include <vector>

namespace forensight::parallel {

// Where the plug-in is looked for, in order: next to the running executable (/proc/self/exe's
// folder, where the build puts it beside `forensight`), then $FORENSIGHT_CUDA_PLUGIN (the file, or
// the folder holding libforensight_cuda.so) when set.
std::vector<std::filesystem::path> nccl_plugin_candidates();

// An NCCL backend for this rank's GPU cuda:device_index, over `store` (every rank passes the same
// store: a PrefixStore of its own, apart from Gloo's keys). Collective: every rank calls it at the
// same time (the NCCL communicator is made before it returns). Loads libtorch_cuda.so first.
// Throws Error naming the rank and why: no CUDA in this LibTorch, the plug-in missing (with the
// paths tried and dlerror()), no GPU, NCCL's own failure.
c10::intrusive_ptr<c10d::Backend> create_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                      int rank, int size,
                                                      std::chrono::milliseconds timeout,
                                                      int device_index);

}  // namespace forensight::parallel
