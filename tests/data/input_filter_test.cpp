// data/input_filter and the filtered normalize_batch: exact residuals on small known tensors, the
// scaling that keeps normalisation meaningful, layouts, and the refusal of unknown names.
#include "forensight/data/input_filter.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "forensight/data/normalize.h"

namespace forensight::data {
namespace {

// rows: one image plane -> (1, 1, H, W) float
torch::Tensor plane(std::vector<std::vector<float>> rows) {
  const int64_t h = static_cast<int64_t>(rows.size()), w = static_cast<int64_t>(rows[0].size());
  torch::Tensor t = torch::empty({1, 1, h, w});
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) t[0][0][i][j] = rows[i][j];
  return t;
}

void expect_exactly(const torch::Tensor& got, const torch::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(torch::equal(got, want)) << "got\n" << got << "\nwant\n" << want;
}

TEST(InputFilterTest, NprSubtractsEachTwoByTwoBlocksTopLeftPixel) {
  const torch::Tensor x = plane({{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}});
  // Anchors: 1 for the top-left block, 3, 9, 11 for the others.
  const torch::Tensor want = plane({{0, 1, 0, 1}, {4, 5, 4, 5}, {0, 1, 0, 1}, {4, 5, 4, 5}});
  expect_exactly(apply_input_filter(x, InputFilter::kNpr), want);
}

TEST(InputFilterTest, NprMatchesNearestDownAndUpSampling) {
  // The NPR paper's definition with F.interpolate, on an even-sided batch of several channels.
  const torch::Tensor x = torch::randint(0, 256, {2, 3, 6, 8}).to(torch::kFloat32);
  namespace F = torch::nn::functional;
  const torch::Tensor down = F::interpolate(x, F::InterpolateFuncOptions()
                                                   .scale_factor(std::vector<double>{0.5, 0.5})
                                                   .mode(torch::kNearest));
  const torch::Tensor up = F::interpolate(down, F::InterpolateFuncOptions()
                                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                                    .mode(torch::kNearest));
  expect_exactly(apply_input_filter(x, InputFilter::kNpr), x - up);
}

TEST(InputFilterTest, NprOddLastRowAndColumnAreTheirOwnAnchors) {
  const torch::Tensor x = plane({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}});
  const torch::Tensor want = plane({{0, 1, 0}, {3, 4, 3}, {0, 1, 0}});
  expect_exactly(apply_input_filter(x, InputFilter::kNpr), want);
}

TEST(InputFilterTest, HighPassIsPixelMinusMeanOfFourNeighboursWithReplicatedBorder) {
  const torch::Tensor x = plane({{0, 0, 0}, {0, 8, 0}, {0, 0, 4}});
  // Centre: 8 - 0; beside it: 0 - 8/4; (1, 2): 0 - (0 + 4 + 8 + 0)/4; (2, 2): 4 - (0 + 4 + 0 +
  // 4)/4, the border replicating the 4 below and to its right; the corners see only zeros.
  const torch::Tensor want = plane({{0, -2, 0}, {-2, 8, -3}, {0, -3, 2}});
  expect_exactly(apply_input_filter(x, InputFilter::kHighPass), want);
}

TEST(InputFilterTest, ConstantImagesGiveZeroAndNoneKeepsTheInput) {
  const torch::Tensor x = torch::full({2, 3, 5, 7}, 173.0f);
  for (InputFilter f : {InputFilter::kNpr, InputFilter::kHighPass})
    EXPECT_EQ(apply_input_filter(x, f).abs().max().item<float>(), 0.0f) << input_filter_name(f);
  EXPECT_TRUE(apply_input_filter(x, InputFilter::kNone).is_same(x));
}

TEST(InputFilterTest, ParsesNamesAndRefusesOthersListingTheValidOnes) {
  EXPECT_EQ(parse_input_filter("npr"), InputFilter::kNpr);
  EXPECT_EQ(parse_input_filter("HighPass"), InputFilter::kHighPass);
  EXPECT_EQ(parse_input_filter("none"), InputFilter::kNone);
  for (InputFilter f : {InputFilter::kNone, InputFilter::kNpr, InputFilter::kHighPass})
    EXPECT_EQ(parse_input_filter(input_filter_name(f)), f);
  try {
    parse_input_filter("sobel");
    FAIL() << "accepted 'sobel'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'sobel'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("none, npr, highpass"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_input_filter(torch::zeros({3, 4, 4}), InputFilter::kNpr), Error);
}

TEST(InputFilterTest, NormalisedResidualIsTheResidualOverStdAndTheResidualOfTheNormalisedImage) {
  const torch::Tensor images = torch::randint(0, 256, {2, 3, 6, 6}, torch::kUInt8);  // (B, 3, H, W)
  const torch::Tensor pixels = images.to(torch::kFloat32);
  for (InputFilter f : {InputFilter::kNpr, InputFilter::kHighPass}) {
    for (NormPreset preset : {NormPreset::kImageNet, NormPreset::kHalf}) {
      const NormStatistics stats = norm_statistics(preset);
      const torch::Tensor std = torch::tensor({stats.std[0], stats.std[1], stats.std[2]});
      const torch::Tensor out = normalize_batch(images, preset, f, torch::kCPU, false);
      EXPECT_EQ(out.scalar_type(), torch::kFloat32);
      const torch::Tensor want = apply_input_filter(pixels, f) / (255.0f * std.view({1, 3, 1, 1}));
      EXPECT_TRUE(torch::allclose(out, want, /*rtol=*/1e-6, /*atol=*/1e-6)) << input_filter_name(f);
      // The mean cancels: the same as filtering the normalised image (float rounding apart).
      const torch::Tensor normalised = normalize_batch(images, preset, torch::kCPU, false);
      EXPECT_TRUE(torch::allclose(out, apply_input_filter(normalised, f), 1e-5, 1e-5))
          << input_filter_name(f);
    }
  }
}

TEST(InputFilterTest, FilteredBatchKeepsTheLayoutAskedFor) {
  const torch::Tensor images = torch::randint(0, 256, {2, 3, 4, 4}, torch::kUInt8);
  const torch::Tensor nhwc = normalize_batch(images, NormPreset::kHalf, InputFilter::kNpr,
                                             torch::kCPU, /*channels_last=*/true);
  EXPECT_TRUE(nhwc.is_contiguous(torch::MemoryFormat::ChannelsLast));
  const torch::Tensor nchw =
      normalize_batch(images, NormPreset::kHalf, InputFilter::kNpr, torch::kCPU, false);
  EXPECT_TRUE(nchw.is_contiguous());
  EXPECT_TRUE(torch::equal(nhwc, nchw));
  // kNone is the unfiltered normalisation, bit for bit.
  EXPECT_TRUE(torch::equal(
      normalize_batch(images, NormPreset::kImageNet, InputFilter::kNone, torch::kCPU, false),
      normalize_batch(images, NormPreset::kImageNet, torch::kCPU, false)));
}

}  // namespace
}  // namespace forensight::data
