// The model the checkpoint fuzzer loads weights into, and make_seeds saves its seeds from: a
// parameter and a buffer, small enough that a seed checkpoint stays a few KiB.
#pragma once
#include <torch/torch.h>

namespace forensight::fuzz {

struct CheckpointModelImpl : torch::nn::Module {
  CheckpointModelImpl()
      : linear(register_module("linear", torch::nn::Linear(3, 2))),
        norm(register_module("norm", torch::nn::BatchNorm1d(2))) {}
  torch::nn::Linear linear;
  torch::nn::BatchNorm1d norm;
};
TORCH_MODULE(CheckpointModel);

}  // namespace forensight::fuzz
