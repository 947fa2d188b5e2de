// ResNet's stem max-pool (3x3 window, stride 2, padding 1) on the CPU, for training and float
// inference. PyTorch's CPU kernel for this layer (max_pool2d_with_indices, NCHW) was the largest
// operation of a ResNet18 training step after the convolutions: 137 ms of a ~4 s step at batch 32
// on 2 cores, for a pass that reads 100 MB. This one gives the same outputs and the same indices,
// so PyTorch's own backward (max_pool2d_with_indices_backward) consumes them unchanged.
#pragma once
#include <torch/torch.h>

#include <utility>

namespace forensight::models {

// x: (B, C, H, W) float32 on the CPU -> (values (B, C, Ho, Wo), indices (B, C, Ho, Wo) int64)
// with Ho = (H - 1) / 2 + 1, Wo = (W - 1) / 2 + 1. An index is h * W + w within its plane, the
// first maximum in the window's row-major order, as PyTorch picks it; a NaN wins over any number,
// and of several NaNs the last one does (PyTorch's `val > max || isnan(val)`).
std::pair<torch::Tensor, torch::Tensor> max_pool_3x3_stride2_with_indices(const torch::Tensor& x);

// The layer: this kernel for contiguous float32 CPU input, torch::max_pool2d otherwise (CUDA,
// channels-last, other dtypes). Differentiable: the backward is PyTorch's.
// x: (B, C, H, W) -> (B, C, Ho, Wo)
torch::Tensor stem_max_pool(const torch::Tensor& x);

}  // namespace forensight::models
