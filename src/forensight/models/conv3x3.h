// ResNet's 3x3 convolution (padding 1, stride 1 or 2, no bias) for CPU training, with our own
// backward-by-weights. oneDNN's AVX2 backward-by-weights was the largest pass of a ResNet18
// training step: 1.3-1.4 s of a ~3.3 s step at batch 32 on 2 cores, at 70-100 GFLOPS where its
// forward reaches ~150 (docs/RESULTS.md, session 5). The gradient is a GEMM over every output
// position, dW[o][c][kh][kw] = sum over (n, oh, ow) of dY[n][o][oh][ow] * X[n][c][ih][iw], which a
// packed, register-blocked kernel runs at ~80% of the CPU's FMA peak. The forward and the
// backward-by-data stay oneDNN's.
#pragma once
#include <torch/torch.h>

namespace forensight::models {

// The weight gradient of a 3x3 convolution with padding 1:
// x: (B, C, H, W), grad_out: (B, O, Ho, Wo), float32 on the CPU, each contiguous or channels-last,
// with Ho = (H - 1) / stride + 1 and Wo = (W - 1) / stride + 1 -> (O, C, 3, 3) in weight_format
// (Contiguous or ChannelsLast, as the weight it is the gradient of).
// Needs C % 16 == 0 and a CPU with AVX2 and FMA (conv3x3_kernel_available). Each weight's sum runs
// over (n, oh, ow) in order on one thread, so the result does not depend on the thread count.
torch::Tensor conv3x3_weight_grad(
    const torch::Tensor& x, const torch::Tensor& grad_out, int64_t stride,
    torch::MemoryFormat weight_format = torch::MemoryFormat::Contiguous);

// Whether this CPU runs the kernel above (x86-64 with AVX2 and FMA).
bool conv3x3_kernel_available();

// The layer, y = conv2d(x, weight, stride, padding 1): differentiable, with the weight gradient
// from conv3x3_weight_grad where it applies (float32 CPU tensors, contiguous or channels-last,
// C % 16 == 0, a weight that needs a gradient); everything else is torch::conv2d as it is.
// Channels-last is the faster layout on the CPU: oneDNN's forward and backward-by-data then run
// without converting every activation to its blocked layout and back (docs/RESULTS.md, session 8).
// x: (B, C, H, W), weight: (O, C, 3, 3) -> (B, O, Ho, Wo)
torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride);

}  // namespace forensight::models
