// ResNet's "BatchNorm, then (add the shortcut, then) ReLU" as one CPU training op. LibTorch runs it
// as two or three ops, each a full pass over the activation: batch_norm (two reads for the
// statistics, one read and one write to normalise), the add (two reads, one write) and relu_ (one
// read, one write); backward, threshold_backward (two reads, one write) and batch_norm's backward
// (four reads, one write). At 224 px and batch 32 these tensors are 3-100 MB each, far beyond the
// caches, so the op is memory-bound: fused, the statistics take one read and the output one read
// and one write; backward, one pass reduces and one writes the input's gradient.
#pragma once
#include <torch/torch.h>

namespace forensight::models {

// y = relu(bn(x) + residual), residual optional. In training on float32 CPU tensors, contiguous
// or channels-last (the residual in x's layout), and a BatchNorm with affine parameters, running
// statistics and a fixed momentum, it is one fused, differentiable op that updates bn's running
// statistics and batch count as bn(x) does; everything else is bn(x) (+ residual), relu as
// LibTorch runs them.
// x, residual: (B, C, H, W) -> (B, C, H, W)
torch::Tensor batch_norm_relu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn,
                              const torch::Tensor& residual = {});

}  // namespace forensight::models
