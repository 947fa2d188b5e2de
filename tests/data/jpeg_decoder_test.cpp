// The JPEG path alone: round trips through tjCompress2, the DCT-domain scale choice, and the
// per-thread handles under concurrent use.
#include "forensight/data/jpeg_decoder.h"

#include <gtest/gtest.h>

#include <thread>

#include "forensight/data/jpeg_encoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::compare_bytes;
using testing::gradient_image;

TEST(JpegDecoderTest, HighQualityRoundTripIsClose) {
  Image image = gradient_image(96, 64);
  JpegEncodeOptions options;
  options.quality = 100;
  options.subsampling = ChromaSubsampling::k444;
  Image decoded = decode_jpeg(encode_jpeg(image, options), {});
  ASSERT_EQ(decoded.width, 96);
  ASSERT_EQ(decoded.height, 64);
  auto d = compare_bytes(decoded.pixels, image.pixels);
  EXPECT_LE(d.mean_abs, 1.5) << "max " << d.max_abs;
  EXPECT_LE(d.max_abs, 12);
}

TEST(JpegDecoderTest, ProgressiveAndBaselineDecodeAlike) {
  Image image = gradient_image(80, 48);
  JpegEncodeOptions options;
  options.quality = 92;
  std::vector<uint8_t> baseline = encode_jpeg(image, options);
  options.progressive = true;
  std::vector<uint8_t> progressive = encode_jpeg(image, options);
  EXPECT_NE(baseline, progressive);
  EXPECT_EQ(decode_jpeg(baseline, {}).pixels, decode_jpeg(progressive, {}).pixels);
}

TEST(JpegDecoderTest, GrayscaleBecomesThreeEqualChannels) {
  Image image = gradient_image(33, 17);
  JpegEncodeOptions options;
  options.subsampling = ChromaSubsampling::kGray;
  Image decoded = decode_jpeg(encode_jpeg(image, options), {});
  ASSERT_EQ(decoded.pixels.size(), 33u * 17 * 3);
  for (size_t i = 0; i < decoded.pixels.size(); i += 3) {
    ASSERT_EQ(decoded.pixels[i], decoded.pixels[i + 1]);
    ASSERT_EQ(decoded.pixels[i], decoded.pixels[i + 2]);
  }
}

// libjpeg-turbo 2.1 regression: a grayscale encode used to leave the per-thread compressor in a
// state that made the next colour encode on that thread produce a corrupt file.
TEST(JpegDecoderTest, ColourEncodeAfterGrayscaleEncodeIsValid) {
  Image image = gradient_image(48, 40);
  std::vector<uint8_t> before = encode_jpeg(image, {});
  JpegEncodeOptions gray;
  gray.subsampling = ChromaSubsampling::kGray;
  encode_jpeg(image, gray);
  std::vector<uint8_t> after = encode_jpeg(image, {});
  EXPECT_EQ(before, after);
  EXPECT_EQ(decode_jpeg(after, {}).pixels, decode_jpeg(before, {}).pixels);
}

TEST(JpegDecoderTest, PicksSmallestScaleStillCoveringTarget) {
  // 1000x800 -> 224: 2/8 gives 250x200 (< 224), 3/8 gives 375x300 >= 224.
  JpegScale s = pick_jpeg_scale(1000, 800, 224);
  EXPECT_EQ(s.num * 8, 3 * s.denom);
  EXPECT_EQ(pick_jpeg_scale(1000, 800, 0).num, 1);
  EXPECT_EQ(pick_jpeg_scale(1000, 800, 0).denom, 1);
  // Smaller than the target: full size, never upscaled.
  JpegScale small = pick_jpeg_scale(100, 100, 224);
  EXPECT_EQ(small.num, small.denom);
  // 4000x3000 -> 1/8 = 500x375.
  JpegScale big = pick_jpeg_scale(4000, 3000, 224);
  EXPECT_EQ(big.num * 8, big.denom);
}

TEST(JpegDecoderTest, DctScaledDecodeHasScaledSizeAndCoversTarget) {
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(640, 480));
  DecodeOptions options;
  options.min_side_px = 224;
  Image decoded = decode_jpeg(jpeg, options);
  EXPECT_EQ(decoded.width, 320);  // 4/8
  EXPECT_EQ(decoded.height, 240);
  EXPECT_GE(std::min(decoded.width, decoded.height), 224);
  // Same picture: the mean colour barely moves.
  Image full = decode_jpeg(jpeg, {});
  double mean_full = 0, mean_scaled = 0;
  for (uint8_t v : full.pixels) mean_full += v;
  for (uint8_t v : decoded.pixels) mean_scaled += v;
  EXPECT_NEAR(mean_full / full.pixels.size(), mean_scaled / decoded.pixels.size(), 1.0);
}

TEST(JpegDecoderTest, ConcurrentDecodesMatchSerialOnes) {
  std::vector<std::vector<uint8_t>> files;
  std::vector<Image> expected;
  for (int i = 0; i < 8; ++i) {
    files.push_back(encode_jpeg(gradient_image(64 + i * 8, 48, i)));
    expected.push_back(decode_jpeg(files.back(), {}));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 25; ++round)
        for (size_t i = 0; i < files.size(); ++i)
          mismatches[t] += decode_jpeg(files[i], {}).pixels != expected[i].pixels;
    });
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace forensight::data
