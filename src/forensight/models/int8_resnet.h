// ResNet inference in int8 on the CPU: weights quantized per output channel (symmetric int8),
// activations per tensor (unsigned) with ranges measured on calibration images. Two engines run
// the quantized convolutions (Int8Engine): oneDNN with 8-bit activations, preferred because it is
// faster at batch 1 and closer to fp32 (bench predict, `forensight quantize`), and FBGEMM with
// 7-bit activations (its reduce_range, so that its 16-bit pair sums cannot saturate on CPUs without
// VNNI). The classifier head runs in float on the pooled features.
//
// The input's low-order bits are where generator traces live, so they are never rounded away: the
// model takes the uint8 pixels themselves, and the stem convolution runs in int8 on them exactly
// (a pixel is its own uint8 code at scale 1), with the normalisation folded into the stem's weights
// and bias and the image padded by the per-channel mean pixel, so that the padding is (to half a
// grey level) the normalised zero the float model pads with. Float input, already normalised, runs
// the stem in float instead.
//
// Calibration: run FusedResNet::forward_observed over representative images with an
// ActivationRangeObserver, then build Int8ResNet from the same FusedResNet and the ranges.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "forensight/data/normalize.h"
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

// The library that runs the quantized convolutions.
enum class Int8Engine { kOnednn, kFbgemm };

// "onednn" or "fbgemm".
const char* int8_engine_name(Int8Engine engine);
// True when this LibTorch can run `engine` (x86-64 wheels have both).
bool int8_engine_available(Int8Engine engine);
// oneDNN when available, else FBGEMM. Throws Error when neither is.
Int8Engine default_int8_engine();
// True when some int8 engine is available.
bool int8_inference_available();

class Int8ResNetImpl : public ClassifierImpl {
 public:
  // fused: on the CPU. ranges: (fused.observation_points(), 2) from ActivationRangeObserver; the
  // same ranges serve either engine. input: the normalisation the fused model was trained with.
  Int8ResNetImpl(const FusedResNetImpl& fused, const torch::Tensor& ranges,
                 const data::NormStatistics& input, Int8Engine engine = default_int8_engine());
  // x: (B, 3, H, W) uint8 pixels, or float already normalised (the stem then runs in float), on
  // the CPU -> (B, num_classes) float logits
  torch::Tensor forward(torch::Tensor x) override;
  void reset_head(int64_t num_classes) override;
  Int8Engine engine() const { return engine_; }
  // The stem's quantized output (after its ReLU), dequantized: (B, 3, H, W) uint8 or float ->
  // (B, 64, H/2, W/2) float. For tests and diagnostics.
  torch::Tensor stem_activation(torch::Tensor x);

 private:
  struct QuantizedConv {
    c10::IValue packed;  // the engine's prepacked weight and bias (Conv2dPackedParamsBase)
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

  torch::Tensor stem_float(torch::Tensor x);  // (B, 3, H, W) float -> quantized stem output
  torch::Tensor stem_int8(torch::Tensor x);   // (B, 3, H, W) uint8 -> quantized stem output

  Int8Engine engine_;
  FusedConv stem_;  // float, on normalised input
  double stem_scale_ = 1.0;
  int64_t stem_zero_point_ = 0;
  // The stem on pixels (normalisation folded in, no padding of its own), the pixel code that reads
  // as 0, and the (1, 3, 1, 1) uint8 pixel the image is padded with.
  c10::IValue stem_on_pixels_;
  int64_t pixel_zero_point_ = 0;
  torch::Tensor padding_pixel_;
  std::vector<QuantizedBlock> blocks_;
  torch::Tensor fc_weight_;  // (num_classes, 512) float
  torch::Tensor fc_bias_;
};
TORCH_MODULE(Int8ResNet);

}  // namespace forensight::models
