// Synchronised BatchNorm for data-parallel training: the batch mean and variance are over every
// rank's images, as if one process had seen the whole global batch (PyTorch's SyncBatchNorm).
// Useful when the per-rank batch is small; each BatchNorm then costs two small all-reduces (its
// statistics in forward, two per-channel sums in backward).
#pragma once
#include <torch/torch.h>

#include "forensight/core/collective.h"

namespace forensight::models {

// Training-mode bn(x) with statistics summed over `ranks`; updates bn's running mean, unbiased
// running variance and batch count with the global statistics, as nn::BatchNorm2d does with its
// own. Gradients: x's accounts for every rank's use of the shared statistics; weight's and bias's
// are this rank's sums (the data-parallel gradient average then combines them).
// x: (B, C, H, W) any float dtype, any layout -> (B, C, H, W) float32.
torch::Tensor sync_batch_norm(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn,
                              SumAcrossProcesses& ranks);

}  // namespace forensight::models
