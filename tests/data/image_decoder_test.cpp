// Format sniffing, file reading and every bad-input case of the decoders: each must end in a
// DecodeError whose message gives the reason (and the file, where there is one), never a crash.
#include "forensight/data/image_decoder.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "forensight/core/error.h"
#include "forensight/core/memory.h"
#include "forensight/core/timer.h"
#include "forensight/data/jpeg_encoder.h"
#include "forensight/data/png_encoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::gradient_image;
using testing::TempDir;
using testing::write_bytes;

// Expects decode_image_file(path) to throw DecodeError containing every one of `needles`.
void expect_decode_error(const std::string& path, std::vector<std::string> needles) {
  try {
    Image image = decode_image_file(path);
    FAIL() << "decoded " << path << " as " << image.width << "x" << image.height;
  } catch (const DecodeError& e) {
    for (const auto& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

std::vector<uint8_t> png_with_ihdr(uint32_t width, uint32_t height) {
  auto be32 = [](std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
  };
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  std::vector<uint8_t> chunk = {'I', 'H', 'D', 'R'};
  be32(chunk, width);
  be32(chunk, height);
  chunk.insert(chunk.end(), {8, 2, 0, 0, 0});  // 8-bit RGB
  be32(png, 13);
  png.insert(png.end(), chunk.begin(), chunk.end());
  be32(png, static_cast<uint32_t>(crc32(0, chunk.data(), static_cast<uInt>(chunk.size()))));
  // An IDAT that would never hold 20000 x 20000 pixels: the refusal must come first.
  std::vector<uint8_t> idat = {'I', 'D', 'A', 'T', 0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
  be32(png, 8);
  png.insert(png.end(), idat.begin(), idat.end());
  be32(png, static_cast<uint32_t>(crc32(0, idat.data(), static_cast<uInt>(idat.size()))));
  return png;
}

// Rewrites the frame size in the SOF marker of a JPEG.
std::vector<uint8_t> jpeg_with_size(std::vector<uint8_t> jpeg, uint16_t width, uint16_t height) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xFF && (jpeg[i + 1] == 0xC0 || jpeg[i + 1] == 0xC2)) {
      jpeg[i + 5] = height >> 8;
      jpeg[i + 6] = height & 0xFF;
      jpeg[i + 7] = width >> 8;
      jpeg[i + 8] = width & 0xFF;
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker found";
  return jpeg;
}

TEST(ImageDecoderTest, DetectsFormatsByContentNotExtension) {
  Image image = gradient_image(16, 8);
  EXPECT_EQ(detect_format(encode_jpeg(image)), ImageFormat::kJpeg);
  EXPECT_EQ(detect_format(encode_png(image)), ImageFormat::kPng);
  const uint8_t webp[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P'};
  EXPECT_EQ(detect_format(webp), ImageFormat::kWebp);
  const uint8_t text[] = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(detect_format(text), ImageFormat::kUnknown);
  EXPECT_STREQ(format_name(ImageFormat::kPng), "png");

  TempDir dir;
  write_bytes(dir.file("really_a_png.jpg"), encode_png(image));
  Image decoded = decode_image_file(dir.file("really_a_png.jpg"));
  EXPECT_EQ(decoded.pixels, image.pixels);
}

TEST(ImageDecoderTest, ReadsHeaderInfoWithoutDecoding) {
  Image image = gradient_image(40, 24);
  ImageInfo jpeg = read_image_info(encode_jpeg(image));
  EXPECT_EQ(jpeg.format, ImageFormat::kJpeg);
  EXPECT_EQ(jpeg.width, 40);
  EXPECT_EQ(jpeg.height, 24);
  ImageInfo png = read_image_info(encode_png(image));
  EXPECT_EQ(png.format, ImageFormat::kPng);
  EXPECT_EQ(png.width, 40);
  EXPECT_EQ(png.height, 24);
}

TEST(ImageDecoderTest, ReusedBuffersDecodeLikeFreshOnes) {
  // The loader's per-thread buffers: images of different sizes and formats in a row must come out
  // as a fresh decode does, whatever the buffers held before.
  TempDir dir;
  write_bytes(dir.file("big.jpg"), encode_jpeg(gradient_image(120, 90, 2)));
  write_bytes(dir.file("small.jpg"), encode_jpeg(gradient_image(33, 47, 3)));
  write_bytes(dir.file("mid.png"), encode_png(gradient_image(64, 64, 4)));
  std::vector<uint8_t> bytes;
  Image image;
  for (const char* name : {"big.jpg", "small.jpg", "mid.png", "big.jpg", "big.jpg"})
    for (int min_side : {0, 40}) {
      DecodeOptions options;
      options.min_side_px = min_side;
      Image fresh = decode_image_file(dir.file(name), options);
      decode_image_file(dir.file(name), options, bytes, image);
      EXPECT_EQ(image.width, fresh.width) << name;
      EXPECT_EQ(image.height, fresh.height) << name;
      EXPECT_EQ(image.pixels, fresh.pixels) << name << " min_side " << min_side;
    }
}

TEST(ImageDecoderTest, MissingFileNamesThePath) {
  expect_decode_error("/nonexistent/forensight/none.jpg",
                      {"/nonexistent/forensight/none.jpg", "No such file"});
}

TEST(ImageDecoderTest, DirectoryIsRefused) {
  TempDir dir;
  expect_decode_error(dir.path().string(), {dir.path().string(), "directory"});
}

TEST(ImageDecoderTest, ZeroByteFileIsRefused) {
  TempDir dir;
  write_bytes(dir.file("empty.jpg"), {});
  expect_decode_error(dir.file("empty.jpg"), {"empty.jpg", "empty"});
}

TEST(ImageDecoderTest, TextFileIsNotAnImage) {
  TempDir dir;
  std::string text = "file_name,label\na.jpg,0\n";
  write_bytes(dir.file("notes.png"), std::vector<uint8_t>(text.begin(), text.end()));
  expect_decode_error(dir.file("notes.png"), {"notes.png", "not a JPEG, PNG or WebP"});
}

TEST(ImageDecoderTest, RandomBytesAreNotAnImage) {
  TempDir dir;
  std::mt19937 rng(7);
  std::vector<uint8_t> noise(4096);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  noise[0] = 0x00;  // not by chance a JPEG SOI
  write_bytes(dir.file("noise.jpg"), noise);
  expect_decode_error(dir.file("noise.jpg"), {"noise.jpg", "not a JPEG"});
}

TEST(ImageDecoderTest, JpegMagicFollowedByGarbageIsCorrupt) {
  TempDir dir;
  std::mt19937 rng(9);
  std::vector<uint8_t> bytes = {0xFF, 0xD8, 0xFF, 0xE0};
  for (int i = 0; i < 2000; ++i) bytes.push_back(static_cast<uint8_t>(rng()));
  write_bytes(dir.file("garbage.jpg"), bytes);
  expect_decode_error(dir.file("garbage.jpg"), {"garbage.jpg", "JPEG"});
}

TEST(ImageDecoderTest, TruncatedJpegIsRefused) {
  TempDir dir;
  std::vector<uint8_t> jpeg = encode_jpeg(gradient_image(128, 96));
  jpeg.resize(jpeg.size() * 6 / 10);
  write_bytes(dir.file("cut.jpg"), jpeg);
  expect_decode_error(dir.file("cut.jpg"), {"cut.jpg", "truncated JPEG", "Premature end"});
}

TEST(ImageDecoderTest, TruncatedPngIsRefused) {
  TempDir dir;
  std::vector<uint8_t> png = encode_png(gradient_image(128, 96));
  png.resize(png.size() / 2);
  write_bytes(dir.file("cut.png"), png);
  expect_decode_error(dir.file("cut.png"), {"cut.png", "PNG"});
}

TEST(ImageDecoderTest, PngWithBadCrcIsRefused) {
  TempDir dir;
  std::vector<uint8_t> png = encode_png(gradient_image(32, 32));
  png[20] ^= 0x01;  // inside IHDR: its CRC no longer matches
  write_bytes(dir.file("crc.png"), png);
  expect_decode_error(dir.file("crc.png"), {"crc.png", "PNG"});
}

TEST(ImageDecoderTest, TruncatedWebpIsRefused) {
  const uint8_t webp[] = {'R', 'I', 'F', 'F', 100, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8'};
  EXPECT_THROW(decode_image(webp), DecodeError);
}

TEST(ImageDecoderTest, PngOverPixelLimitIsRefusedBeforeAllocating) {
  std::vector<uint8_t> png = png_with_ihdr(20000, 20000);
  ImageInfo info = read_image_info(png);
  EXPECT_EQ(info.width, 20000);
  const int64_t rss_before = peak_rss_bytes();
  Timer timer;
  try {
    decode_image(png);
    FAIL() << "a 20000x20000 PNG was accepted";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("over the limit"), std::string::npos) << e.what();
  }
  EXPECT_LT(timer.milliseconds(), 100.0);
  // 20000 x 20000 x 3 bytes = 1.2 GB would have shown up in the peak RSS.
  EXPECT_LT(peak_rss_bytes() - rss_before, 64ll << 20);
}

TEST(ImageDecoderTest, JpegOverPixelLimitIsRefusedBeforeAllocating) {
  std::vector<uint8_t> jpeg = jpeg_with_size(encode_jpeg(gradient_image(64, 64)), 20000, 20000);
  ImageInfo info = read_image_info(jpeg);
  EXPECT_EQ(info.width, 20000);
  EXPECT_EQ(info.height, 20000);
  const int64_t rss_before = peak_rss_bytes();
  Timer timer;
  try {
    decode_image(jpeg);
    FAIL() << "a 20000x20000 JPEG was accepted";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("400000000 pixels, over the limit"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(timer.milliseconds(), 100.0);
  EXPECT_LT(peak_rss_bytes() - rss_before, 64ll << 20);
}

TEST(ImageDecoderTest, PixelLimitIsConfigurable) {
  std::vector<uint8_t> png = encode_png(gradient_image(100, 100));
  DecodeOptions options;
  options.max_pixels = 9999;
  EXPECT_THROW(decode_image(png, options), DecodeError);
  options.max_pixels = 10000;
  EXPECT_EQ(decode_image(png, options).width, 100);
}

}  // namespace
}  // namespace forensight::data
