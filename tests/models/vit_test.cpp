// Vision Transformer: shapes for every preset, image sizes, position-embedding interpolation, and
// agreement with torchvision's VisionTransformer (names, shapes, logits within 1e-4).
#include "forensight/models/vit.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/weights.h"
#include "python_fixture.h"

namespace forensight::models {
namespace {

// torchvision VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=3,
// hidden_dim=192, mlp_dim=768) and ours with the same configuration.
constexpr const char* kSmallVitArgs =
    "--torchvision vit --vit-image-size 32 --vit-patch-size 16 --vit-layers 2 --vit-heads 3 "
    "--vit-hidden 192 --vit-mlp 768 --num-classes 2 --random-init --perturb --seed 5";

VitOptions small_vit_options() {
  VitOptions o;
  o.image_size_px = 32;
  o.patch_size_px = 16;
  o.num_layers = 2;
  o.num_heads = 3;
  o.hidden_dim = 192;
  o.mlp_dim = 768;
  o.num_classes = 2;
  return o;
}

TEST(VitTest, PresetsHaveTheirWidthsDepthsAndHeads) {
  // Their output shapes are checked by RegistryTest, which builds every preset once.
  struct Expected {
    VitOptions options;
    int64_t hidden, heads, mlp;
  };
  for (const auto& e :
       {Expected{vit_tiny_options(), 192, 3, 768}, Expected{vit_small_options(), 384, 6, 1536},
        Expected{vit_base_options(), 768, 12, 3072}}) {
    EXPECT_EQ(e.options.hidden_dim, e.hidden);
    EXPECT_EQ(e.options.num_heads, e.heads);
    EXPECT_EQ(e.options.mlp_dim, e.mlp);
    EXPECT_EQ(e.options.num_layers, 12);
    EXPECT_EQ(e.options.patch_size_px, 16);
    EXPECT_EQ(e.options.image_size_px, 224);
  }
}

TEST(VitTest, AcceptsAnyMultipleOfThePatchSize) {
  torch::NoGradGuard no_grad;
  for (int64_t side : {16, 48, 80}) {
    VitOptions options = small_vit_options();
    options.image_size_px = side;
    options.num_layers = 1;
    VisionTransformer model(options);
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({1, 3, side, side})).sizes(),
              (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(model->encoder()->pos_embedding.size(1), 1 + (side / 16) * (side / 16));
  }
}

TEST(VitTest, RejectsImageSizeNotMultipleOfPatch) {
  EXPECT_THROW(VisionTransformer(vit_tiny_options(40)), Error);
  VisionTransformer model(small_vit_options());
  EXPECT_THROW(model->forward(torch::randn({1, 3, 48, 48})), Error);
}

TEST(VitTest, InterpolatedPosEmbeddingKeepsClassTokenAndResizesGrid) {
  torch::Tensor pos = torch::randn({1, 1 + 4, 8});  // (1, 1 + 2*2, D)
  pos.narrow(1, 1, 4).fill_(0.25);                  // a constant grid stays constant
  torch::Tensor resized = interpolate_pos_embedding(pos, /*new_grid=*/3);
  ASSERT_EQ(resized.sizes(), (std::vector<int64_t>{1, 10, 8}));
  EXPECT_TRUE(torch::equal(resized.narrow(1, 0, 1), pos.narrow(1, 0, 1)));
  EXPECT_LE((resized.narrow(1, 1, 9) - 0.25).abs().max().item<double>(), 1e-6);
  // align_corners: the grid's corners are kept exactly.
  torch::Tensor ramp = torch::randn({1, 1 + 4, 8});
  torch::Tensor up = interpolate_pos_embedding(ramp, /*new_grid=*/4);
  EXPECT_LE(testing::max_abs_diff(up.select(1, 1), ramp.select(1, 1)), 1e-5);
  EXPECT_LE(testing::max_abs_diff(up.select(1, 16), ramp.select(1, 4)), 1e-5);
}

TEST(VitIntegration, StateDictNamesAndShapesEqualTorchvision) {
  auto dir = testing::export_fixture(kSmallVitArgs);
  auto reference = read_safetensors(dir / "weights.safetensors").tensors;
  auto ours = state_dict(*VisionTransformer(small_vit_options()));
  ASSERT_EQ(ours.size(), reference.size());
  for (const auto& [name, tensor] : reference) {
    ASSERT_TRUE(ours.count(name)) << "torchvision has " << name << ", we do not";
    EXPECT_EQ(ours.at(name).sizes(), tensor.sizes()) << name;
  }
}

TEST(VitIntegration, SameWeightsGiveTorchvisionLogits) {
  auto dir = testing::export_fixture(kSmallVitArgs);
  VisionTransformer model(small_vit_options());
  load_weights(*model, dir / "weights.safetensors");
  model->eval();
  auto reference = read_safetensors(dir / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(reference.at("input"));  // (2, 2)
  const double diff = testing::max_abs_diff(logits, reference.at("logits"));
  std::cout << "vit (32px, 2 layers) vs torchvision: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 1e-4) << "ours " << logits << "\ntorchvision " << reference.at("logits");
}

TEST(VitIntegration, TinyPresetMatchesTorchvisionNamesShapesAndLogits) {
  auto dir = testing::export_fixture(
      "--torchvision vit_tiny_16 --num-classes 2 --random-init --perturb --seed 7 "
      "--reference-batch 1 --reference-image-size 224");
  auto weights = read_safetensors(dir / "weights.safetensors").tensors;
  VisionTransformer model(vit_tiny_options(/*image_size_px=*/224));
  auto ours = state_dict(*model);
  ASSERT_EQ(ours.size(), weights.size());
  for (const auto& [name, tensor] : weights) {
    ASSERT_TRUE(ours.count(name)) << "torchvision has " << name << ", we do not";
    EXPECT_EQ(ours.at(name).sizes(), tensor.sizes()) << name;
  }
  load_weights(*model, dir / "weights.safetensors");
  model->eval();
  auto reference = read_safetensors(dir / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  const double diff =
      testing::max_abs_diff(model->forward(reference.at("input")), reference.at("logits"));
  std::cout << "vit-tiny (224px) vs torchvision: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
}

}  // namespace
}  // namespace forensight::models
