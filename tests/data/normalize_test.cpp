// Device-side normalisation: preset parsing, values against the formula, layout.
#include "forensight/data/normalize.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

TEST(NormalizeTest, ParsesPresetsAndListsValidOnes) {
  EXPECT_EQ(parse_norm_preset("imagenet"), NormPreset::kImageNet);
  EXPECT_EQ(parse_norm_preset("ImageNet"), NormPreset::kImageNet);
  EXPECT_EQ(parse_norm_preset("half"), NormPreset::kHalf);
  EXPECT_EQ(parse_norm_preset("vit"), NormPreset::kHalf);
  try {
    parse_norm_preset("clip");
    FAIL() << "accepted 'clip'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("imagenet, half"), std::string::npos) << e.what();
  }
}

TEST(NormalizeTest, ImageNetValuesMatchFormula) {
  torch::Tensor images = torch::randint(0, 256, {2, 3, 5, 7}, torch::kUInt8);  // (B, 3, H, W)
  torch::Tensor out = normalize_batch(images, NormPreset::kImageNet, torch::kCPU, false);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  EXPECT_EQ(out.sizes(), images.sizes());
  torch::Tensor mean = torch::tensor({0.485, 0.456, 0.406}).view({1, 3, 1, 1});
  torch::Tensor std = torch::tensor({0.229, 0.224, 0.225}).view({1, 3, 1, 1});
  torch::Tensor expected = (images.to(torch::kFloat64) / 255.0 - mean) / std;
  EXPECT_LT((out.to(torch::kFloat64) - expected).abs().max().item<double>(), 1e-5);
}

TEST(NormalizeTest, HalfPresetMapsToMinusOneOne) {
  torch::Tensor images = torch::tensor({0, 255, 128}, torch::kUInt8).view({1, 3, 1, 1});
  torch::Tensor out = normalize_batch(images, NormPreset::kHalf, torch::kCPU, false);
  EXPECT_NEAR(out[0][0][0][0].item<float>(), -1.0f, 1e-6);
  EXPECT_NEAR(out[0][1][0][0].item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR(out[0][2][0][0].item<float>(), 128.0f / 127.5f - 1.0f, 1e-6);
}

TEST(NormalizeTest, ChannelsLastOnRequest) {
  torch::Tensor images = torch::zeros({2, 3, 8, 8}, torch::kUInt8);
  torch::Tensor out = normalize_batch(images, NormPreset::kHalf, torch::kCPU, true);
  EXPECT_TRUE(out.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(normalize_batch(images, NormPreset::kHalf, torch::kCPU, false).is_contiguous());
}

TEST(NormalizeTest, RefusesNonUint8OrWrongShape) {
  EXPECT_THROW(normalize_batch(torch::zeros({1, 3, 4, 4}), NormPreset::kHalf, torch::kCPU, false),
               Error);
  EXPECT_THROW(normalize_batch(torch::zeros({1, 4, 4, 4}, torch::kUInt8), NormPreset::kHalf,
                               torch::kCPU, false),
               Error);
}

}  // namespace
}  // namespace forensight::data
