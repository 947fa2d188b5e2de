// The quantized kernels are oneDNN's or FBGEMM's, reached through the dispatcher by their
// registered names (quantized::conv2d_prepack, quantized::conv2d_relu.new, ...), the same entry
// points PyTorch's eager quantized modules call. Prepacking happens under the chosen engine, which
// makes the packed weights that engine's; the convolutions then run on whichever engine packed
// them.
#include "forensight/models/int8_resnet.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "forensight/core/error.h"
#include "forensight/models/shape.h"

namespace forensight::models {
namespace {

// Activations are quint8: [0, 255] for oneDNN; [0, 127] for FBGEMM (its reduce_range on AVX2).
int64_t activation_max(Int8Engine engine) {
  return engine == Int8Engine::kFbgemm ? 127 : 255;
}

at::QEngine qengine(Int8Engine engine) {
  return engine == Int8Engine::kFbgemm ? at::QEngine::FBGEMM : at::QEngine::ONEDNN;
}

struct QuantParams {
  double scale;
  int64_t zero_point;
};

// Affine parameters that represent [lo, hi] in [0, q_max] (widened to include 0, as every
// quantizer must).
QuantParams activation_params(double lo, double hi, int64_t q_max) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  double scale = (hi - lo) / static_cast<double>(q_max);
  if (scale <= std::numeric_limits<float>::epsilon()) scale = 1e-6;  // an all-zero activation
  const auto zero_point = std::clamp<int64_t>(std::llround(-lo / scale), 0, q_max);
  return {scale, zero_point};
}

c10::OperatorHandle find_op(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

std::vector<c10::IValue> call(const c10::OperatorHandle& op, std::vector<c10::IValue> stack) {
  op.callBoxed(&stack);
  return stack;
}

// Symmetric per-channel: scale_c = max |w_c| / (q_max + 0.5) as PyTorch's per-channel observer
// (q_max 127: 8-bit weights; 63: 7-bit).
torch::Tensor quantize_weight(const torch::Tensor& weight, int q_max) {
  torch::Tensor w = weight.to(torch::kCPU, torch::kFloat32).contiguous();  // (C_out, C_in, k, k)
  torch::Tensor amax = w.abs().amax({1, 2, 3}).to(torch::kFloat64).clamp_min(1e-12);  // (C_out)
  torch::Tensor zero_points = torch::zeros({w.size(0)}, torch::kInt64);
  return torch::quantize_per_channel(w, amax / (q_max + 0.5), zero_points, 0, torch::kQInt8);
}

c10::IValue pack(const torch::Tensor& quantized_weight, const torch::Tensor& bias, int64_t stride,
                 int64_t padding) {
  static const auto prepack = find_op("quantized::conv2d_prepack", "");
  auto out =
      call(prepack, {quantized_weight, bias.to(torch::kCPU, torch::kFloat32).contiguous(),
                     c10::List<int64_t>({stride, stride}), c10::List<int64_t>({padding, padding}),
                     c10::List<int64_t>({1, 1}), int64_t{1}});
  return out.at(0);
}

c10::IValue pack(const FusedConv& conv) {
  return pack(quantize_weight(conv.weight, 127), conv.bias, conv.stride, conv.padding);
}

torch::Tensor quantized_conv(const torch::Tensor& qx, const c10::IValue& packed, double scale,
                             int64_t zero_point, bool relu) {
  static const auto conv = find_op("quantized::conv2d", "new");
  static const auto conv_relu = find_op("quantized::conv2d_relu", "new");
  return call(relu ? conv_relu : conv, {qx, packed, scale, zero_point}).at(0).toTensor();
}

torch::Tensor quantized_add_relu(const torch::Tensor& qa, const torch::Tensor& qb, double scale,
                                 int64_t zero_point) {
  static const auto add_relu = find_op("quantized::add_relu", "");
  return call(add_relu, {qa, qb, scale, zero_point}).at(0).toTensor();
}

// The pixel every channel is centred on in the int8 stem: the mean pixel over channels.
int64_t pixel_zero_point(const data::NormStatistics& input) {
  const double mean = (input.mean[0] + input.mean[1] + input.mean[2]) / 3.0;
  return std::clamp<int64_t>(std::llround(255.0 * mean), 0, 255);
}

// The stem on uint8 pixels p, read as p - z (zero point z): with o = 255 mean and s = 255 std per
// channel, conv(w, (p - o) / s) + b = conv(w', p - z) + b' for w' = w / s and b' = b - sum of
// w' * (o - z), exactly where the kernel sees no padding. b' is computed with w' as quantized, so
// the sum's large constant part carries no weight-rounding error; centring on z keeps the part
// that does small, as in the float model, whose inputs are centred too.
c10::IValue pack_stem_on_pixels(const FusedConv& stem, const data::NormStatistics& input) {
  torch::Tensor w = stem.weight.to(torch::kCPU, torch::kFloat64).contiguous();  // (64, 3, k, k)
  auto per_channel = [](const std::array<float, 3>& v) {
    return torch::tensor({v[0], v[1], v[2]}, torch::kFloat64).view({1, 3, 1, 1});
  };
  const torch::Tensor o = 255.0 * per_channel(input.mean);
  // 7-bit weights: a pixel is a full 8-bit activation, and on CPUs without VNNI both engines sum
  // pairs of u8 * s8 products in 16 bits: 2 * 255 * 64 still fits, 2 * 255 * 127 saturates (which
  // was measured: errors of ~20 output steps with 8-bit stem weights, none with 7-bit).
  const torch::Tensor qw = quantize_weight(w / (255.0 * per_channel(input.std)), 63);
  const auto z = static_cast<double>(pixel_zero_point(input));
  const torch::Tensor bias = stem.bias.to(torch::kCPU, torch::kFloat64) -
                             (qw.dequantize().to(torch::kFloat64) * (o - z)).sum({1, 2, 3});
  return pack(qw, bias, stem.stride, /*padding=*/0);  // the caller pads with the mean pixel
}

}  // namespace

const char* int8_engine_name(Int8Engine engine) {
  return engine == Int8Engine::kFbgemm ? "fbgemm" : "onednn";
}

bool int8_engine_available(Int8Engine engine) {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), qengine(engine)) != engines.end();
}

Int8Engine default_int8_engine() {
  if (int8_engine_available(Int8Engine::kOnednn)) return Int8Engine::kOnednn;
  FS_CHECK(int8_engine_available(Int8Engine::kFbgemm),
           "this LibTorch has neither the oneDNN nor the FBGEMM quantized engine, so int8 "
           "inference cannot run here");
  return Int8Engine::kFbgemm;
}

bool int8_inference_available() {
  return int8_engine_available(Int8Engine::kOnednn) || int8_engine_available(Int8Engine::kFbgemm);
}

ActivationRangeObserver::ActivationRangeObserver(int points)
    : min_(points, std::numeric_limits<double>::infinity()),
      max_(points, -std::numeric_limits<double>::infinity()),
      seen_(points, false) {}

void ActivationRangeObserver::observe(int point, const torch::Tensor& activation) {
  FS_CHECK(point >= 0 && point < static_cast<int>(min_.size()),
           "observation point {} outside the {} points of this model", point, min_.size());
  auto [lo, hi] = torch::aminmax(activation.detach());
  min_[point] = std::min(min_[point], lo.item<double>());
  max_[point] = std::max(max_[point], hi.item<double>());
  seen_[point] = true;
}

ActivationObserver ActivationRangeObserver::callback() {
  return [this](int point, const torch::Tensor& t) { observe(point, t); };
}

torch::Tensor ActivationRangeObserver::ranges() const {
  torch::Tensor out = torch::empty({static_cast<int64_t>(min_.size()), 2}, torch::kFloat64);
  auto a = out.accessor<double, 2>();
  for (size_t i = 0; i < min_.size(); ++i) {
    FS_CHECK(seen_[i], "calibration never reached observation point {}: run at least one image", i);
    a[i][0] = min_[i];
    a[i][1] = max_[i];
  }
  return out;
}

Int8ResNetImpl::Int8ResNetImpl(const FusedResNetImpl& fused, const torch::Tensor& ranges,
                               const data::NormStatistics& input, Int8Engine engine)
    : engine_(engine) {
  FS_CHECK(int8_engine_available(engine),
           "this LibTorch has no {} quantized engine, so int8 inference cannot run on it",
           int8_engine_name(engine));
  FS_CHECK(ranges.dim() == 2 && ranges.size(0) == fused.observation_points() && ranges.size(1) == 2,
           "int8 calibration ranges must be ({}, 2) for this ResNet, got {}",
           fused.observation_points(), format_shape(ranges.sizes()));
  // Prepacking under the engine makes the packed weights that engine's.
  at::globalContext().setQEngine(qengine(engine));
  torch::NoGradGuard no_grad;
  const torch::Tensor r = ranges.to(torch::kCPU, torch::kFloat64).contiguous();
  auto a = r.accessor<double, 2>();
  int point = 0;
  auto next_params = [&]() {
    const QuantParams p = activation_params(a[point][0], a[point][1], activation_max(engine));
    ++point;
    return p;
  };
  auto quantized = [&](const FusedConv& conv) {
    const QuantParams p = next_params();
    return QuantizedConv{pack(conv), p.scale, p.zero_point};
  };

  stem_ = fused.stem();
  stem_.weight = stem_.weight.to(torch::kCPU);
  stem_.bias = stem_.bias.to(torch::kCPU);
  const QuantParams stem = next_params();
  stem_scale_ = stem.scale;
  stem_zero_point_ = stem.zero_point;
  stem_on_pixels_ = pack_stem_on_pixels(stem_, input);
  pixel_zero_point_ = pixel_zero_point(input);
  std::array<uint8_t, 3> pixel;
  for (int c = 0; c < 3; ++c)
    pixel[c] = static_cast<uint8_t>(std::clamp(std::lround(255.0 * input.mean[c]), 0L, 255L));
  padding_pixel_ = torch::tensor({pixel[0], pixel[1], pixel[2]}, torch::kUInt8).view({1, 3, 1, 1});
  // The order here is the order in which FusedResNet::forward_observed reports points.
  for (const auto& block : fused.blocks()) {
    QuantizedBlock q;
    q.conv1 = quantized(block.conv1);
    if (block.has_downsample()) q.downsample = quantized(block.downsample);
    q.conv2 = quantized(block.conv2);
    const QuantParams out = next_params();
    q.out_scale = out.scale;
    q.out_zero_point = out.zero_point;
    blocks_.push_back(std::move(q));
  }
  fc_weight_ = register_buffer("fc_weight", fused.fc_weight().to(torch::kCPU).clone());
  fc_bias_ = register_buffer("fc_bias", fused.fc_bias().to(torch::kCPU).clone());
  eval();
}

torch::Tensor Int8ResNetImpl::stem_float(torch::Tensor x) {
  // x: (B, 3, H, W) float, normalised
  x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  x = torch::conv2d(x, stem_.weight, stem_.bias, stem_.stride, stem_.padding);
  // The ReLU: with zero point 0 (a post-ReLU range starts at 0) quantizing clamps negatives to 0,
  // which is the ReLU, so the separate pass is skipped.
  if (stem_zero_point_ != 0) x.relu_();
  return torch::quantize_per_tensor(x, stem_scale_, stem_zero_point_,
                                    torch::kQUInt8);  // (B, 64, H/2, W/2)
}

torch::Tensor Int8ResNetImpl::stem_int8(torch::Tensor x) {
  // x: (B, 3, H, W) uint8 pixels
  const int64_t pad = stem_.padding;
  torch::Tensor padded = torch::empty({x.size(0), 3, x.size(2) + 2 * pad, x.size(3) + 2 * pad},
                                      torch::TensorOptions().dtype(torch::kUInt8),
                                      torch::MemoryFormat::ChannelsLast);  // (B, 3, H+2p, W+2p)
  padded.copy_(padding_pixel_.expand_as(padded));
  padded.narrow(2, pad, x.size(2)).narrow(3, pad, x.size(3)).copy_(x);
  // Each pixel is its own code (scale 1), so nothing is rounded.
  const torch::Tensor qx =
      at::_make_per_tensor_quantized_tensor(padded, /*scale=*/1.0, pixel_zero_point_);
  return quantized_conv(qx, stem_on_pixels_, stem_scale_, stem_zero_point_,
                        /*relu=*/true);  // (B, 64, H/2, W/2)
}

torch::Tensor Int8ResNetImpl::forward(torch::Tensor x) {
  // x: (B, 3, H, W) uint8 pixels or normalised float
  FS_CHECK(x.dim() == 4 && x.size(1) == 3, "ResNet expects (B, 3, H, W) input, got {}",
           format_shape(x.sizes()));
  FS_CHECK(x.device().is_cpu(), "int8 inference runs on the CPU, got input on {}",
           x.device().str());
  torch::NoGradGuard no_grad;
  torch::Tensor q = x.scalar_type() == torch::kUInt8 ? stem_int8(x) : stem_float(x);
  q = torch::max_pool2d(q, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2},
                        /*padding=*/{1, 1}, /*dilation=*/{1, 1});  // (B, 64, H/4, W/4)
  for (const auto& block : blocks_) {
    torch::Tensor out = quantized_conv(q, block.conv1.packed, block.conv1.scale,
                                       block.conv1.zero_point, /*relu=*/true);
    torch::Tensor shortcut = q;
    if (!block.downsample.packed.isNone())
      shortcut = quantized_conv(q, block.downsample.packed, block.downsample.scale,
                                block.downsample.zero_point, /*relu=*/false);
    out = quantized_conv(out, block.conv2.packed, block.conv2.scale, block.conv2.zero_point,
                         /*relu=*/false);
    q = quantized_add_relu(out, shortcut, block.out_scale, block.out_zero_point);
  }
  torch::Tensor features =
      torch::adaptive_avg_pool2d(q, {1, 1}).dequantize().flatten(1);  // (B, 512)
  return torch::linear(features, fc_weight_, fc_bias_);               // (B, num_classes)
}

torch::Tensor Int8ResNetImpl::stem_activation(torch::Tensor x) {
  torch::NoGradGuard no_grad;
  return (x.scalar_type() == torch::kUInt8 ? stem_int8(x) : stem_float(x)).dequantize();
}

void Int8ResNetImpl::reset_head(int64_t) {
  fail("an int8 ResNet cannot change its head: reset the trained model's head and recalibrate");
}

}  // namespace forensight::models
