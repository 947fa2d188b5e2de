// ResNet inference in int8 on the CPU (FBGEMM): weights quantized per output channel (symmetric
// int8), activations per tensor (unsigned, 7 bits, as FBGEMM needs on CPUs without VNNI so that
// its 16-bit pair sums cannot saturate) with ranges measured on calibration images. The stem
// convolution stays in float, so the input's low-order bits, where generator traces live, are not
// rounded away; the classifier head runs in float on the pooled features.
//
// Calibration: run FusedResNet::forward_observed over representative images with an
// ActivationRangeObserver, then build Int8ResNet from the same FusedResNet and the ranges.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "forensight/models/classifier.h"
#include "forensight/models/fused_resnet.h"

namespace forensight::models {

// Running min and max of each observation point over every image seen.
class ActivationRangeObserver {
 public:
  explicit ActivationRangeObserver(int points);
  void observe(int point, const torch::Tensor& activation);
  ActivationObserver callback();
  // (points, 2) float64: min, max. Throws Error when a point was never observed.
  torch::Tensor ranges() const;

 private:
  std::vector<double> min_;
  std::vector<double> max_;
  std::vector<bool> seen_;
};

// True when this LibTorch was built with FBGEMM (x86-64 wheels are).
bool int8_inference_available();

class Int8ResNetImpl : public ClassifierImpl {
 public:
  // fused: on the CPU. ranges: (fused.observation_points(), 2) from ActivationRangeObserver.
  Int8ResNetImpl(const FusedResNetImpl& fused, const torch::Tensor& ranges);
  // x: (B, 3, H, W) float, normalised, on the CPU -> (B, num_classes) float logits
  torch::Tensor forward(torch::Tensor x) override;
  void reset_head(int64_t num_classes) override;

 private:
  struct QuantizedConv {
    c10::IValue packed;  // FBGEMM's prepacked weight and bias (Conv2dPackedParamsBase)
    double scale = 1.0;  // of the output activation
    int64_t zero_point = 0;
  };
  struct QuantizedBlock {
    QuantizedConv conv1;       // with ReLU
    QuantizedConv conv2;       // before the residual add
    QuantizedConv downsample;  // packed is None for the identity shortcut
    double out_scale = 1.0;    // of add + ReLU
    int64_t out_zero_point = 0;
  };

  FusedConv stem_;  // float
  double stem_scale_ = 1.0;
  int64_t stem_zero_point_ = 0;
  std::vector<QuantizedBlock> blocks_;
  torch::Tensor fc_weight_;  // (num_classes, 512) float
  torch::Tensor fc_bias_;
};
TORCH_MODULE(Int8ResNet);

}  // namespace forensight::models
