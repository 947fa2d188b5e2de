// ResNet18 with torchvision's exact architecture and state-dict names (conv1, bn1, layer1.0.conv1,
// layer2.0.downsample.0, fc), so torchvision and timm checkpoints load without renaming.
// Blocks (BasicBlock) compose into stages (layerN) compose into the model.
#pragma once
#include <torch/torch.h>

#include <array>
#include <cstdint>

#include "forensight/models/classifier.h"

namespace forensight::models {

// Two 3x3 convolutions with a residual; the first may stride and widen, then a 1x1 projection
// ("downsample") brings the shortcut to the same shape.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride);
  // x: (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)
  torch::Tensor forward(torch::Tensor x);
  // BatchNorm statistics over the ranks in training (sync_batch_norm.h); null = this process's.
  void set_batch_norm_ranks(std::shared_ptr<SumAcrossProcesses> ranks) {
    ranks_ = std::move(ranks);
  }

 private:
  int64_t stride_;  // conv1's
  std::shared_ptr<SumAcrossProcesses> ranks_;
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential downsample_{nullptr};  // empty when the shortcut is the identity
};
TORCH_MODULE(BasicBlock);

// One stage: num_blocks BasicBlocks, the first of which strides. A Sequential so that the blocks
// are named layerN.0, layerN.1 as in torchvision.
torch::nn::Sequential make_resnet_stage(int64_t in_channels, int64_t out_channels,
                                        int64_t num_blocks, int64_t stride);

struct ResNetOptions {
  std::array<int64_t, 4> blocks_per_stage = {2, 2, 2, 2};  // ResNet18
  int64_t num_classes = 2;                                 // outputs of fc
  bool channels_last = false;  // weights and input in NHWC (faster convolutions on CPU and GPU)
};

class ResNetImpl : public ClassifierImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options = {});
  // x: (B, 3, H, W) float, normalised, any H, W >= 32 -> (B, num_classes) logits
  torch::Tensor forward(torch::Tensor x) override;
  void reset_head(int64_t num_classes) override;
  // stem, layer1.0, layer1.1, ..., layer4.1, head (avgpool + fc): the calls forward() makes.
  std::vector<StageUnit> stage_units() override;
  bool synchronize_batch_norm(std::shared_ptr<SumAcrossProcesses> ranks) override;
  const ResNetOptions& options() const { return options_; }

 private:
  std::shared_ptr<SumAcrossProcesses> ranks_;  // sync_batch_norm.h; null = per process
  void init_weights();
  // conv1, bn1, relu, maxpool: (B, 3, H, W) -> (B, 64, H/4, W/4); checks the input first
  torch::Tensor stem(torch::Tensor x);
  // avgpool, flatten, fc: (B, 512, h, w) -> (B, num_classes)
  torch::Tensor head(const torch::Tensor& x);

  ResNetOptions options_;
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Sequential layer1_;
  torch::nn::Sequential layer2_;
  torch::nn::Sequential layer3_;
  torch::nn::Sequential layer4_;
  torch::nn::Linear fc_;
};
TORCH_MODULE(ResNet);

// torchvision's resnet18: blocks {2, 2, 2, 2}, widths 64/128/256/512.
ResNet resnet18(int64_t num_classes = 2, bool channels_last = false);

}  // namespace forensight::models
