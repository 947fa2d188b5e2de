// An inference-only ResNet: every BatchNorm folded into the convolution before it (w' = w * g / s,
// b' = beta - mean * g / s, with s = sqrt(var + eps)), weights and activations in channels_last.
// It computes what the trained ResNet computes in eval mode, with three fewer passes over memory
// per block, and is the float reference that int8 quantization is calibrated against.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "forensight/models/classifier.h"
#include "forensight/models/resnet.h"

namespace forensight::models {

// One convolution with its BatchNorm folded in.
struct FusedConv {
  torch::Tensor weight;  // (C_out, C_in, k, k) float, channels_last
  torch::Tensor bias;    // (C_out) float
  int64_t stride = 1;
  int64_t padding = 0;
};

struct FusedBlock {
  FusedConv conv1;       // followed by ReLU
  FusedConv conv2;       // added to the shortcut, then ReLU
  FusedConv downsample;  // 1x1 projection of the shortcut; weight undefined when it is the identity
  bool has_downsample() const { return downsample.weight.defined(); }
};

// Called with (point, activation) at each place an int8 model re-quantizes, in a fixed order:
// the stem's output, then per block conv1's output, the shortcut projection's output (when the
// block has one), conv2's output and the block's output.
using ActivationObserver = std::function<void(int, const torch::Tensor&)>;

class FusedResNetImpl : public ClassifierImpl {
 public:
  // Folds `trained` (any device; its BatchNorm running statistics are used, as in eval mode).
  explicit FusedResNetImpl(ResNetImpl& trained);
  // x: (B, 3, H, W) float, normalised -> (B, num_classes) logits
  torch::Tensor forward(torch::Tensor x) override;
  // forward(), reporting every re-quantization point to `observe`.
  torch::Tensor forward_observed(torch::Tensor x, const ActivationObserver& observe);
  void reset_head(int64_t num_classes) override;

  // Number of points forward_observed() reports.
  int observation_points() const;
  const FusedConv& stem() const { return stem_; }
  const std::vector<FusedBlock>& blocks() const { return blocks_; }
  const torch::Tensor& fc_weight() const { return fc_weight_; }  // (num_classes, 512)
  const torch::Tensor& fc_bias() const { return fc_bias_; }      // (num_classes)

 private:
  FusedConv stem_;
  std::vector<FusedBlock> blocks_;
  torch::Tensor fc_weight_;
  torch::Tensor fc_bias_;
};
TORCH_MODULE(FusedResNet);

}  // namespace forensight::models
