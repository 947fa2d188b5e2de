#include "forensight/models/fused_resnet.h"

#include <map>
#include <string>

#include "forensight/core/error.h"
#include "forensight/models/shape.h"

namespace forensight::models {
namespace {

using TensorMap = std::map<std::string, torch::Tensor>;

TensorMap named_tensors(ResNetImpl& model) {
  TensorMap tensors;
  for (const auto& item : model.named_parameters()) tensors[item.key()] = item.value().detach();
  for (const auto& item : model.named_buffers()) tensors[item.key()] = item.value().detach();
  return tensors;
}

const torch::Tensor& tensor_at(const TensorMap& tensors, const std::string& name) {
  auto it = tensors.find(name);
  FS_CHECK(it != tensors.end(), "cannot fold the ResNet: it has no tensor '{}'", name);
  return it->second;
}

// conv_name: the convolution's prefix ("layer1.0.conv1"); bn_name: its BatchNorm's
// ("layer1.0.bn1").
FusedConv fold(const TensorMap& tensors, const std::string& conv_name, const std::string& bn_name,
               int64_t stride, int64_t padding) {
  // Folding in float64 keeps the folded weights within one float rounding of w * g / s.
  const auto w = tensor_at(tensors, conv_name + ".weight").to(torch::kFloat64);
  const auto gamma = tensor_at(tensors, bn_name + ".weight").to(torch::kFloat64);
  const auto beta = tensor_at(tensors, bn_name + ".bias").to(torch::kFloat64);
  const auto mean = tensor_at(tensors, bn_name + ".running_mean").to(torch::kFloat64);
  const auto var = tensor_at(tensors, bn_name + ".running_var").to(torch::kFloat64);
  constexpr double kEps = 1e-5;  // torch::nn::BatchNorm2d's default, which ResNetImpl uses
  const auto scale = gamma / torch::sqrt(var + kEps);  // (C_out)
  FusedConv c;
  c.weight = (w * scale.view({-1, 1, 1, 1}))
                 .to(torch::kFloat32)
                 .contiguous(torch::MemoryFormat::ChannelsLast);
  c.bias = (beta - mean * scale).to(torch::kFloat32).contiguous();
  c.stride = stride;
  c.padding = padding;
  return c;
}

torch::Tensor run(const FusedConv& c, const torch::Tensor& x) {
  return torch::conv2d(x, c.weight, c.bias, c.stride, c.padding);
}

}  // namespace

FusedResNetImpl::FusedResNetImpl(ResNetImpl& trained) {
  torch::NoGradGuard no_grad;
  const TensorMap tensors = named_tensors(trained);
  stem_ = fold(tensors, "conv1", "bn1", /*stride=*/2, /*padding=*/3);
  const auto& stages = trained.options().blocks_per_stage;
  for (size_t stage = 0; stage < stages.size(); ++stage) {
    for (int64_t b = 0; b < stages[stage]; ++b) {
      const std::string prefix = fmt::format("layer{}.{}.", stage + 1, b);
      // The first block of stages 2-4 strides (torchvision's layout).
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      FusedBlock block;
      block.conv1 = fold(tensors, prefix + "conv1", prefix + "bn1", stride, 1);
      block.conv2 = fold(tensors, prefix + "conv2", prefix + "bn2", 1, 1);
      if (tensors.count(prefix + "downsample.0.weight"))
        block.downsample =
            fold(tensors, prefix + "downsample.0", prefix + "downsample.1", stride, 0);
      blocks_.push_back(std::move(block));
    }
  }
  fc_weight_ = tensor_at(tensors, "fc.weight").clone();
  fc_bias_ = tensor_at(tensors, "fc.bias").clone();

  // Registered as buffers (names without dots, as Module requires) so that to(device) and the
  // module's state see them.
  auto keep = [this](const std::string& name, torch::Tensor& t) { t = register_buffer(name, t); };
  keep("stem_weight", stem_.weight);
  keep("stem_bias", stem_.bias);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    auto& block = blocks_[i];
    keep(fmt::format("block{}_conv1_weight", i), block.conv1.weight);
    keep(fmt::format("block{}_conv1_bias", i), block.conv1.bias);
    keep(fmt::format("block{}_conv2_weight", i), block.conv2.weight);
    keep(fmt::format("block{}_conv2_bias", i), block.conv2.bias);
    if (block.has_downsample()) {
      keep(fmt::format("block{}_downsample_weight", i), block.downsample.weight);
      keep(fmt::format("block{}_downsample_bias", i), block.downsample.bias);
    }
  }
  keep("fc_weight", fc_weight_);
  keep("fc_bias", fc_bias_);
  eval();
}

int FusedResNetImpl::observation_points() const {
  int points = 1;
  for (const auto& block : blocks_) points += block.has_downsample() ? 4 : 3;
  return points;
}

torch::Tensor FusedResNetImpl::forward(torch::Tensor x) {
  return forward_observed(std::move(x), nullptr);
}

torch::Tensor FusedResNetImpl::forward_observed(torch::Tensor x,
                                                const ActivationObserver& observe) {
  // x: (B, 3, H, W) float
  FS_CHECK(x.dim() == 4 && x.size(1) == 3, "ResNet expects (B, 3, H, W) input, got {}",
           format_shape(x.sizes()));
  int point = 0;
  auto seen = [&](const torch::Tensor& t) {
    if (observe) observe(point, t);
    ++point;
  };
  x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  x = run(stem_, x).relu_();  // (B, 64, H/2, W/2)
  seen(x);
  x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);  // (B, 64, H/4, W/4)
  for (const auto& block : blocks_) {
    torch::Tensor out = run(block.conv1, x).relu_();  // (B, C_out, H', W')
    seen(out);
    torch::Tensor shortcut = x;
    if (block.has_downsample()) {
      shortcut = run(block.downsample, x);  // (B, C_out, H', W')
      seen(shortcut);
    }
    out = run(block.conv2, out);
    seen(out);
    out.add_(shortcut).relu_();
    seen(out);
    x = out;
  }
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // (B, 512)
  return torch::linear(x, fc_weight_, fc_bias_);         // (B, num_classes)
}

void FusedResNetImpl::reset_head(int64_t) {
  fail("a folded inference ResNet cannot change its head: reset the trained model's head instead");
}

}  // namespace forensight::models
