// Device selection by name ("cpu", "cuda", "cuda:N"), refused with the list of devices this
// machine has when the name is wrong or the device is absent. Naming a CUDA device loads LibTorch's
// CUDA libraries (core/cuda_runtime.h); "cpu" never does.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace forensight {

torch::Device parse_device(const std::string& name);
// "cpu", then "cuda:0".. for each GPU; asking loads LibTorch's CUDA libraries.
std::vector<std::string> available_devices();

// Sets LibTorch's intra-op and inter-op thread counts (0 = keep LibTorch's default). Inter-op
// threads can be set only once per process, before any parallel work; later calls are ignored.
void set_thread_counts(int intra_op_threads, int interop_threads);

}  // namespace forensight
