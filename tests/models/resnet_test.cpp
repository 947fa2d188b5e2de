// ResNet18: output shapes, channels_last equivalence, head reset, and agreement with torchvision's
// resnet18 (state-dict names and shapes, logits for the same weights and input within 1e-4).
#include "forensight/models/resnet.h"

#include <gtest/gtest.h>

#include "forensight/models/safetensors.h"
#include "forensight/models/shape.h"
#include "forensight/models/weights.h"
#include "python_fixture.h"

namespace forensight::models {
namespace {

TEST(ResNetTest, OutputShapeIsBatchByClasses) {
  torch::NoGradGuard no_grad;
  auto model = resnet18(/*num_classes=*/2);
  model->eval();
  EXPECT_EQ(model->forward(torch::randn({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(model->forward(torch::randn({1, 3, 48, 80})).sizes(), (std::vector<int64_t>{1, 2}));
}

TEST(ResNetTest, ChannelsLastGivesSameLogitsAsContiguous) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  auto plain = resnet18(/*num_classes=*/2, /*channels_last=*/false);
  auto nhwc = resnet18(/*num_classes=*/2, /*channels_last=*/true);
  nhwc->eval();
  plain->eval();
  auto source = state_dict(*plain);
  for (auto& [name, tensor] : state_dict(*nhwc)) tensor.copy_(source.at(name));
  EXPECT_TRUE(
      nhwc->named_parameters()["conv1.weight"].is_contiguous(torch::MemoryFormat::ChannelsLast));
  torch::Tensor x = torch::randn({2, 3, 64, 64});
  const double diff = testing::max_abs_diff(plain->forward(x), nhwc->forward(x));
  EXPECT_LE(diff, 1e-4);
}

// Training: a channels-last model (its CPU stem NCHW, the blocks NHWC through our weight-gradient
// kernel and fused BatchNorm+ReLU) gives the plain model's loss and gradients.
TEST(ResNetTest, ChannelsLastTrainsAsContiguous) {
  torch::manual_seed(2);
  auto plain = resnet18(/*num_classes=*/2, /*channels_last=*/false);
  auto nhwc = resnet18(/*num_classes=*/2, /*channels_last=*/true);
  {
    torch::NoGradGuard no_grad;
    auto source = state_dict(*plain);
    for (auto& [name, tensor] : state_dict(*nhwc)) tensor.copy_(source.at(name));
  }
  const torch::Tensor x = torch::randn({4, 3, 64, 64});
  const torch::Tensor labels = torch::tensor({0, 1, 1, 0});
  const auto loss_plain = torch::nn::functional::cross_entropy(plain->forward(x), labels);
  const auto loss_nhwc = torch::nn::functional::cross_entropy(nhwc->forward(x), labels);
  loss_plain.backward();
  loss_nhwc.backward();
  EXPECT_NEAR(loss_plain.item<double>(), loss_nhwc.item<double>(), 1e-5);
  auto plain_parameters = plain->named_parameters();
  for (const auto& item : nhwc->named_parameters()) {
    const torch::Tensor& want = plain_parameters[item.key()].grad();
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    const double scale = std::max(1e-3, want.abs().max().item<double>());
    EXPECT_LE(testing::max_abs_diff(item.value().grad(), want) / scale, 1e-4) << item.key();
  }
  auto plain_buffers = plain->named_buffers();
  for (const auto& item : nhwc->named_buffers()) {
    if (!item.value().is_floating_point()) continue;
    EXPECT_LE(testing::max_abs_diff(item.value(), plain_buffers[item.key()]), 1e-5) << item.key();
  }
}

TEST(ResNetTest, ResetHeadChangesClassCountOnly) {
  auto model = resnet18(/*num_classes=*/2);
  model->reset_head(5);
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->forward(torch::randn({1, 3, 64, 64})).size(1), 5);
  EXPECT_EQ(state_dict(*model).at("fc.weight").sizes(), (std::vector<int64_t>{5, 512}));
}

TEST(ResNetIntegration, StateDictNamesAndShapesEqualTorchvision) {
  auto dir = testing::export_fixture(
      "--torchvision resnet18 --num-classes 2 --random-init --perturb --seed 3 "
      "--reference-image-size 64");
  auto reference = read_safetensors(dir / "weights.safetensors").tensors;
  auto ours = state_dict(*resnet18(/*num_classes=*/2));
  ASSERT_EQ(ours.size(), reference.size());
  for (const auto& [name, tensor] : reference) {
    ASSERT_TRUE(ours.count(name)) << "torchvision has " << name << ", we do not";
    EXPECT_EQ(ours.at(name).sizes(), tensor.sizes()) << name;
    EXPECT_EQ(ours.at(name).scalar_type(), tensor.scalar_type()) << name;
  }
}

TEST(ResNetIntegration, SameWeightsGiveTorchvisionLogits) {
  auto dir = testing::export_fixture(
      "--torchvision resnet18 --num-classes 2 --random-init --perturb --seed 3 "
      "--reference-image-size 64");
  auto model = resnet18(/*num_classes=*/2);
  load_weights(*model, dir / "weights.safetensors");
  model->eval();
  auto reference = read_safetensors(dir / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(reference.at("input"));  // (2, 2)
  const double diff = testing::max_abs_diff(logits, reference.at("logits"));
  std::cout << "resnet18 vs torchvision: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 1e-4) << "ours " << logits << "\ntorchvision " << reference.at("logits");
}

}  // namespace
}  // namespace forensight::models
