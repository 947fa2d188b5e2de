// Per-sample transforms: output size for each size mode, the decode hint, determinism for a given
// rng seed, and that each augmentation changes pixels only when drawn.
#include "forensight/data/transform.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "forensight/data/blur.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::gradient_image;

TransformOptions augmenting() {
  TransformOptions o;
  o.image_size_px = 64;
  o.size_mode = SizeMode::kRandomCrop;
  o.hflip_prob = 0.5;
  o.blur_prob = 0.5;
  o.jpeg_prob = 0.5;
  return o;
}

TEST(TransformTest, EverySizeModeGivesTheOutputSide) {
  Image image = gradient_image(200, 150);
  for (SizeMode mode :
       {SizeMode::kResize, SizeMode::kCenterCrop, SizeMode::kRandomCrop, SizeMode::kNativeCenter}) {
    TransformOptions o;
    o.image_size_px = 96;
    o.resize_px = 110;
    o.size_mode = mode;
    std::mt19937_64 rng(1);
    Image out = apply_transform(image, o, rng);
    EXPECT_EQ(out.width, 96);
    EXPECT_EQ(out.height, 96);
    EXPECT_EQ(out.pixels.size(), 96u * 96 * 3);
  }
}

TEST(TransformTest, NativeCropOfSmallImageResizesUpFirst) {
  Image image = gradient_image(50, 80);
  TransformOptions o;
  o.image_size_px = 64;
  o.size_mode = SizeMode::kRandomCrop;
  std::mt19937_64 rng(1);
  Image out = apply_transform(image, o, rng);
  EXPECT_EQ(out.width, 64);
  EXPECT_EQ(out.height, 64);
}

TEST(TransformTest, DecodeHintFollowsSizeMode) {
  TransformOptions o;
  o.image_size_px = 224;
  o.resize_px = 256;
  o.size_mode = SizeMode::kResize;
  EXPECT_EQ(decode_min_side_px(o), 224);
  o.size_mode = SizeMode::kCenterCrop;
  EXPECT_EQ(decode_min_side_px(o), 256);
  o.size_mode = SizeMode::kRandomCrop;
  EXPECT_EQ(decode_min_side_px(o), 0);
  o.size_mode = SizeMode::kNativeCenter;
  EXPECT_EQ(decode_min_side_px(o), 0);
}

TEST(TransformTest, SameSeedGivesSameOutputDifferentSeedsDiffer) {
  Image image = gradient_image(160, 120);
  TransformOptions o = augmenting();
  int differing = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    std::mt19937_64 a(seed), b(seed), c(seed + 1000);
    Image first = apply_transform(image, o, a);
    EXPECT_EQ(first.pixels, apply_transform(image, o, b).pixels) << "seed " << seed;
    differing += first.pixels != apply_transform(image, o, c).pixels;
  }
  EXPECT_GE(differing, 10);
}

TEST(TransformTest, ConsumesAFixedNumberOfDraws) {
  Image image = gradient_image(100, 100);
  TransformOptions plain;
  plain.image_size_px = 32;
  std::mt19937_64 a(5), b(5);
  apply_transform(image, plain, a);
  apply_transform(image, augmenting(), b);
  EXPECT_EQ(a(), b());
}

TEST(TransformTest, NoAugmentationMeansCenteredCropUnchanged) {
  Image image = gradient_image(100, 80);
  TransformOptions o;
  o.image_size_px = 40;
  o.size_mode = SizeMode::kNativeCenter;
  std::mt19937_64 rng(3);
  Image out = apply_transform(image, o, rng);
  // torchvision: top = round((80 - 40) / 2) = 20, left = round((100 - 40) / 2) = 30.
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 120; ++x) ASSERT_EQ(out.row(y)[x], image.row(y + 20)[x + 90]);
}

TEST(TransformTest, FlipAlwaysMirrorsRows) {
  Image image = gradient_image(64, 64);
  TransformOptions o;
  o.image_size_px = 64;
  o.size_mode = SizeMode::kNativeCenter;
  o.hflip_prob = 1.0;
  std::mt19937_64 rng(3);
  Image out = apply_transform(image, o, rng);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(out.row(y)[x * 3 + c], image.row(y)[(63 - x) * 3 + c]);
}

TEST(TransformTest, BlurAndJpegChangePixelsWhenDrawn) {
  Image image = gradient_image(64, 64);
  TransformOptions o;
  o.image_size_px = 64;
  o.size_mode = SizeMode::kNativeCenter;
  o.blur_prob = 1.0;
  o.blur_sigma_min = 1.0;
  o.blur_sigma_max = 2.0;
  std::mt19937_64 rng(3);
  EXPECT_NE(apply_transform(image, o, rng).pixels, image.pixels);
  o.blur_prob = 0.0;
  o.jpeg_prob = 1.0;
  o.jpeg_quality_min = o.jpeg_quality_max = 30;
  EXPECT_NE(apply_transform(image, o, rng).pixels, image.pixels);
}

TEST(TransformTest, BlurSmoothsAndKeepsConstantImages) {
  Image flat;
  flat.width = flat.height = 20;
  flat.pixels.assign(20 * 20 * 3, 200);
  EXPECT_EQ(gaussian_blur(flat, 2.0).pixels, flat.pixels);
  Image dot = flat;
  dot.pixels.assign(dot.pixels.size(), 0);
  dot.row(10)[10 * 3] = 255;
  Image blurred = gaussian_blur(dot, 1.0);
  // sigma 1: the centre keeps 1 / (2 pi) of the mass, about 0.159 -> 41.
  EXPECT_NEAR(blurred.row(10)[30], 41, 1);
  EXPECT_GT(blurred.row(10)[33], 0);
}

TEST(TransformTest, PlanarOutputEqualsTransformThenCopy) {
  // apply_transform_chw takes a shortcut for resize and center crop (with or without a flip):
  // the pixels and the draws consumed must be those of apply_transform.
  Image image = gradient_image(263, 250);
  for (SizeMode mode :
       {SizeMode::kResize, SizeMode::kCenterCrop, SizeMode::kRandomCrop, SizeMode::kNativeCenter})
    for (double augment : {0.0, 0.5}) {
      TransformOptions o;
      o.image_size_px = 96;
      o.resize_px = 110;
      o.size_mode = mode;
      o.hflip_prob = augment;
      o.blur_prob = augment;
      o.jpeg_prob = augment;
      for (uint64_t seed = 0; seed < 6; ++seed) {
        std::mt19937_64 rng_a(seed), rng_b(seed);
        Image hwc = apply_transform(image, o, rng_a);
        std::vector<uint8_t> expected(hwc.pixels.size()), out(hwc.pixels.size());  // (3, S, S)
        copy_hwc_to_chw(hwc, expected.data());
        apply_transform_chw(image, o, rng_b, out.data());
        EXPECT_EQ(out, expected) << "mode " << static_cast<int>(mode) << " augment " << augment
                                 << " seed " << seed;
        EXPECT_EQ(rng_a(), rng_b());
      }
    }
}

TEST(TransformTest, InvalidOptionsAreRefused) {
  Image image = gradient_image(32, 32);
  std::mt19937_64 rng(0);
  TransformOptions o;
  o.blur_prob = 1.5;
  EXPECT_THROW(apply_transform(image, o, rng), Error);
  o = {};
  o.jpeg_quality_min = 0;
  EXPECT_THROW(apply_transform(image, o, rng), Error);
  o = {};
  o.size_mode = SizeMode::kCenterCrop;
  o.resize_px = 100;
  EXPECT_THROW(apply_transform(image, o, rng), Error);
}

}  // namespace
}  // namespace forensight::data
