// ResNet18 as torchvision builds it: the same modules in the same order under the same names
// (torchvision's parameter-free `maxpool` module is a function call here, max_pool.h), and the same
// initialisation (kaiming normal fan_out for convolutions, BN weight 1 / bias 0).
#include "forensight/models/resnet.h"

#include "forensight/core/error.h"
#include "forensight/models/batch_norm_relu.h"
#include "forensight/models/conv3x3.h"
#include "forensight/models/max_pool.h"
#include "forensight/models/shape.h"
#include "forensight/models/sync_batch_norm.h"

namespace forensight::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d make_conv3x3(int64_t in_channels, int64_t out_channels, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, /*kernel_size=*/3)
                        .stride(stride)
                        .padding(1)
                        .bias(false));
}

constexpr int64_t kStageWidths[4] = {64, 128, 256, 512};

// relu(bn(x) + residual): the fused op, or with statistics over the ranks when they are given and
// the BatchNorm trains.
torch::Tensor normalize_relu(const torch::Tensor& x, nn::BatchNorm2dImpl& bn,
                             const std::shared_ptr<SumAcrossProcesses>& ranks,
                             const torch::Tensor& residual = {}) {
  if (!ranks || !bn.is_training()) return batch_norm_relu(x, bn, residual);
  torch::Tensor y = sync_batch_norm(x, bn, *ranks);
  if (residual.defined()) y = y + residual;
  return torch::relu(y);
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride)
    : stride_(stride),
      conv1_(make_conv3x3(in_channels, out_channels, stride)),
      bn1_(nn::BatchNorm2dOptions(out_channels)),
      conv2_(make_conv3x3(out_channels, out_channels, /*stride=*/1)),
      bn2_(nn::BatchNorm2dOptions(out_channels)) {
  register_module("conv1", conv1_);
  register_module("bn1", bn1_);
  register_module("conv2", conv2_);
  register_module("bn2", bn2_);
  if (stride != 1 || in_channels != out_channels) {
    downsample_ =
        nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, /*kernel_size=*/1)
                                      .stride(stride)
                                      .bias(false)),
                       nn::BatchNorm2d(nn::BatchNorm2dOptions(out_channels)));
    register_module("downsample", downsample_);
  }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  // x: (B, C_in, H, W)
  torch::Tensor identity = x;  // (B, C_out, H/s, W/s) after the projection
  if (downsample_ && ranks_ && is_training()) {
    identity = sync_batch_norm(downsample_[0]->as<nn::Conv2dImpl>()->forward(x),
                               *downsample_[1]->as<nn::BatchNorm2dImpl>(), *ranks_);
  } else if (downsample_) {
    identity = downsample_->forward(x);
  }
  // The 3x3 convolutions through conv3x3.h (on the CPU their weight gradient is ours), and
  // BatchNorm + ReLU, with the shortcut added in between, as one op (batch_norm_relu.h): at 224 px
  // each separate pass is up to ~100 MB of memory traffic per batch of 32.
  torch::Tensor out =
      normalize_relu(conv3x3(x, conv1_->weight, stride_), *bn1_, ranks_);  // (B, C_out, H/s, W/s)
  out = conv3x3(out, conv2_->weight, /*stride=*/1);                        // (B, C_out, H/s, W/s)
  return normalize_relu(out, *bn2_, ranks_, identity);  // relu(bn2(out) + identity)
}

nn::Sequential make_resnet_stage(int64_t in_channels, int64_t out_channels, int64_t num_blocks,
                                 int64_t stride) {
  FS_CHECK(num_blocks >= 1, "a ResNet stage needs at least one block, got {}", num_blocks);
  nn::Sequential stage;
  stage->push_back(BasicBlock(in_channels, out_channels, stride));
  for (int64_t i = 1; i < num_blocks; ++i)
    stage->push_back(BasicBlock(out_channels, out_channels, /*stride=*/1));
  return stage;
}

ResNetImpl::ResNetImpl(const ResNetOptions& options)
    : options_(options),
      conv1_(nn::Conv2dOptions(3, kStageWidths[0], /*kernel_size=*/7)
                 .stride(2)
                 .padding(3)
                 .bias(false)),
      bn1_(nn::BatchNorm2dOptions(kStageWidths[0])),
      layer1_(make_resnet_stage(kStageWidths[0], kStageWidths[0], options.blocks_per_stage[0],
                                /*stride=*/1)),
      layer2_(make_resnet_stage(kStageWidths[0], kStageWidths[1], options.blocks_per_stage[1],
                                /*stride=*/2)),
      layer3_(make_resnet_stage(kStageWidths[1], kStageWidths[2], options.blocks_per_stage[2],
                                /*stride=*/2)),
      layer4_(make_resnet_stage(kStageWidths[2], kStageWidths[3], options.blocks_per_stage[3],
                                /*stride=*/2)),
      fc_(nn::LinearOptions(kStageWidths[3], options.num_classes)) {
  FS_CHECK(options.num_classes >= 1, "num_classes must be >= 1, got {}", options.num_classes);
  register_module("conv1", conv1_);
  register_module("bn1", bn1_);
  register_module("layer1", layer1_);
  register_module("layer2", layer2_);
  register_module("layer3", layer3_);
  register_module("layer4", layer4_);
  register_module("fc", fc_);
  init_weights();
  if (options_.channels_last) {
    // Module::to takes no memory format: convert each 4-d weight in place.
    torch::NoGradGuard no_grad;
    for (auto& parameter : parameters())
      if (parameter.dim() == 4)
        parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

void ResNetImpl::init_weights() {
  // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") for every convolution,
  // BatchNorm weight 1 and bias 0; the Linear keeps its default (kaiming uniform) init.
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

void ResNetImpl::reset_head(int64_t num_classes) {
  FS_CHECK(num_classes >= 1, "num_classes must be >= 1, got {}", num_classes);
  auto device = fc_->weight.device();
  auto dtype = fc_->weight.scalar_type();
  fc_ = replace_module("fc", nn::Linear(nn::LinearOptions(kStageWidths[3], num_classes)));
  fc_->to(device, dtype);
  options_.num_classes = num_classes;
}

torch::Tensor ResNetImpl::stem(torch::Tensor x) {
  // x: (B, 3, H, W) -> (B, 64, H/4, W/4); torchvision's maxpool (3x3, stride 2, padding 1), on our
  // faster CPU kernel (max_pool.h).
  FS_CHECK(x.dim() == 4 && x.size(1) == 3, "ResNet expects (B, 3, H, W) input, got {}",
           format_shape(x.sizes()));
  if (options_.channels_last && x.device().is_cpu()) {
    // A channels-last model still runs its stem NCHW on the CPU: oneDNN's 7x7 convolution over 3
    // input channels is faster there (forward and weight gradient 118 against 182 ms a step at
    // batch 32 and 224 px, docs/RESULTS.md, session 8), and so is our max-pool. The blocks take
    // channels-last from the pooled output, a quarter of the convolution's.
    x = torch::conv2d(x.contiguous(), conv1_->weight.contiguous(), /*bias=*/{}, /*stride=*/2,
                      /*padding=*/3);                     // (B, 64, H/2, W/2)
    x = stem_max_pool(normalize_relu(x, *bn1_, ranks_));  // (B, 64, H/4, W/4)
    return x.contiguous(torch::MemoryFormat::ChannelsLast);
  }
  if (options_.channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  return stem_max_pool(normalize_relu(conv1_(x), *bn1_, ranks_));
}

torch::Tensor ResNetImpl::head(const torch::Tensor& x) {
  // x: (B, 512, h, w)
  return fc_(torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1));  // (B, 512) -> (B, num_classes)
}

// forward() and stage_units() make the same calls: stem, each block of layer1..layer4 in order
// (what each Sequential's forward does), head.
torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  // x: (B, 3, H, W) float
  x = stem(x);              // (B, 64, H/4, W/4)
  x = layer1_->forward(x);  // (B, 64, H/4, W/4)
  x = layer2_->forward(x);  // (B, 128, H/8, W/8)
  x = layer3_->forward(x);  // (B, 256, H/16, W/16)
  x = layer4_->forward(x);  // (B, 512, H/32, W/32)
  return head(x);           // (B, num_classes)
}

std::vector<StageUnit> ResNetImpl::stage_units() {
  std::vector<StageUnit> units;
  units.push_back({"stem", {conv1_.ptr(), bn1_.ptr()}, {}, [this](const torch::Tensor& x) {
                     return stem(x);  // (B, 3, H, W) -> (B, 64, H/4, W/4)
                   }});
  const std::pair<const char*, nn::Sequential*> layers[] = {
      {"layer1", &layer1_}, {"layer2", &layer2_}, {"layer3", &layer3_}, {"layer4", &layer4_}};
  for (const auto& [layer_name, layer] : layers) {
    for (size_t i = 0; i < (*layer)->size(); ++i) {
      std::shared_ptr<BasicBlockImpl> block = (*layer)->ptr<BasicBlockImpl>(i);
      units.push_back(
          {fmt::format("{}.{}", layer_name, i), {block}, {}, [block](const torch::Tensor& x) {
             return block->forward(x);
           }});
    }
  }
  units.push_back({"head", {fc_.ptr()}, {}, [this](const torch::Tensor& x) {
                     return head(x);  // (B, 512, h, w) -> (B, num_classes)
                   }});
  return units;
}

bool ResNetImpl::synchronize_batch_norm(std::shared_ptr<SumAcrossProcesses> ranks) {
  ranks_ = ranks;
  for (auto* layer : {&layer1_, &layer2_, &layer3_, &layer4_})
    for (size_t i = 0; i < (*layer)->size(); ++i)
      (*layer)->ptr<BasicBlockImpl>(i)->set_batch_norm_ranks(ranks);
  return true;
}

ResNet resnet18(int64_t num_classes, bool channels_last) {
  ResNetOptions options;
  options.num_classes = num_classes;
  options.channels_last = channels_last;
  return ResNet(options);
}

}  // namespace forensight::models
