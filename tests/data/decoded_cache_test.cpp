// The decoded cache: round trip (pixels equal to decode + deterministic transform, CHW order,
// labels, paths, skipped files), determinism across thread counts, and refusal of damaged files.
#include "forensight/data/decoded_cache.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>

#include "../support/error_of.h"
#include "../support/scoped_write_fault.h"
#include "forensight/core/error.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/jpeg_encoder.h"
#include "forensight/data/png_encoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::gradient_image;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

class DecodedCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 9; ++i) {
      std::string path = dir_.file(fmt::format("img{}.{}", i, i % 2 ? "png" : "jpg"));
      Image image = gradient_image(40 + i * 5, 30 + i * 3, i);
      write_bytes(path, i % 2 ? encode_png(image) : encode_jpeg(image));
      dataset_.samples.push_back({path, i % 3 == 0 ? kLabelFake : kLabelReal, "", ""});
    }
    write_bytes(dir_.file("broken.jpg"), {0xFF, 0xD8, 0xFF, 0x00, 0x01});
    dataset_.samples.insert(dataset_.samples.begin() + 4,
                            Sample{dir_.file("broken.jpg"), kLabelReal, "", ""});
    transform_.image_size_px = 24;
    transform_.size_mode = SizeMode::kResize;
  }

  std::string write(int threads, const std::string& name = "cache.fsc") {
    std::string path = dir_.file(name);
    stats_ = write_decoded_cache(dataset_, transform_, path, threads);
    return path;
  }

  // Copies the cache, changes it with `edit`, and returns the error message on opening it.
  std::string open_error(const std::string& path,
                         const std::function<void(std::vector<uint8_t>&)>& edit) {
    std::vector<uint8_t> bytes = read_bytes(path);
    edit(bytes);
    std::string damaged = dir_.file("damaged.fsc");
    write_bytes(damaged, bytes);
    try {
      DecodedCache cache(damaged);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }

  TempDir dir_;
  Dataset dataset_;
  TransformOptions transform_;
  CacheWriteStats stats_;
};

TEST_F(DecodedCacheTest, RoundTripsPixelsLabelsAndPaths) {
  std::string path = write(/*threads=*/3);
  EXPECT_EQ(stats_.written, 9);
  EXPECT_EQ(stats_.skipped, 1);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
  DecodedCache cache(path);
  ASSERT_EQ(cache.size(), 9);
  EXPECT_EQ(cache.image_size_px(), 24);
  int64_t r = 0;
  for (const Sample& s : dataset_.samples) {
    if (s.path.find("broken") != std::string::npos) continue;
    EXPECT_EQ(cache.path(r), s.path);
    EXPECT_EQ(cache.label(r), s.label);
    DecodeOptions decode{decode_min_side_px(transform_), transform_.max_pixels};
    std::mt19937_64 rng(0);
    Image expected = apply_transform(decode_image_file(s.path, decode), transform_, rng);
    std::span<const uint8_t> record = cache.record(r);
    ASSERT_EQ(record.size(), 3u * 24 * 24);
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < 24 * 24; ++i)
        ASSERT_EQ(record[c * 24 * 24 + i], expected.pixels[i * 3 + c]) << s.path << " c" << c;
    ++r;
  }
  Dataset as = cache.as_dataset();
  ASSERT_EQ(as.size(), 9u);
  EXPECT_EQ(as.samples[0].path, dataset_.samples[0].path);
}

TEST_F(DecodedCacheTest, SameFileWhateverTheThreadCount) {
  EXPECT_EQ(read_bytes(write(1, "one.fsc")), read_bytes(write(4, "four.fsc")));
}

TEST_F(DecodedCacheTest, RandomTransformsAreMadeDeterministic) {
  transform_.size_mode = SizeMode::kRandomCrop;
  transform_.hflip_prob = transform_.blur_prob = transform_.jpeg_prob = 1.0;
  EXPECT_EQ(read_bytes(write(2, "a.fsc")), read_bytes(write(2, "b.fsc")));
}

TEST_F(DecodedCacheTest, FlippedDataByteIsRefused) {
  std::string path = write(2);
  std::string message = open_error(path, [](std::vector<uint8_t>& b) { b[64 + 100] ^= 0x40; });
  EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find("damaged.fsc"), std::string::npos) << message;
}

TEST_F(DecodedCacheTest, FlippedHeaderByteIsRefused) {
  std::string path = write(2);
  std::string message = open_error(path, [](std::vector<uint8_t>& b) { b[17] ^= 0x01; });
  EXPECT_NE(message.find("header checksum"), std::string::npos) << message;
}

TEST_F(DecodedCacheTest, TruncatedFileIsRefused) {
  std::string path = write(2);
  std::string message = open_error(path, [](std::vector<uint8_t>& b) { b.resize(b.size() - 10); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  message = open_error(path, [](std::vector<uint8_t>& b) { b.resize(20); });
  EXPECT_NE(message.find("shorter than the 64-byte header"), std::string::npos) << message;
}

TEST_F(DecodedCacheTest, WrongMagicAndVersionAreRefused) {
  std::string path = write(2);
  std::string message = open_error(path, [](std::vector<uint8_t>& b) { b[0] = 'X'; });
  EXPECT_NE(message.find("wrong magic"), std::string::npos) << message;
  message = open_error(path, [](std::vector<uint8_t>& b) { b[8] = 2; });
  EXPECT_NE(message.find("format version 2"), std::string::npos) << message;
}

TEST_F(DecodedCacheTest, SkippingChecksumStillChecksLayout) {
  std::string path = write(2);
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[64 + 5] ^= 0x01;
  write_bytes(dir_.file("flipped.fsc"), bytes);
  DecodedCache unchecked(dir_.file("flipped.fsc"), /*verify_checksum=*/false);
  EXPECT_EQ(unchecked.size(), 9);
  EXPECT_THROW(DecodedCache(dir_.file("flipped.fsc")), Error);
}

TEST_F(DecodedCacheTest, FullDiskNamesTheCacheAndKeepsThePreviousOne) {
  const std::string path = write(2);
  const std::vector<uint8_t> previous = read_bytes(path);
  transform_.image_size_px = 32;  // a different cache, so "unchanged" is visible
  {
    forensight::testing::ScopedWriteFault full("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", 5000);
    const std::string error = forensight::testing::error_of([&] { write(2); });
    EXPECT_NE(error.find("cannot write '" + path + "'"), std::string::npos) << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  }
  EXPECT_EQ(read_bytes(path), previous);
  EXPECT_EQ(DecodedCache(path).image_size_px(), 24);
  size_t files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    files += entry.path().filename().string().find(".tmp.") != std::string::npos;
  EXPECT_EQ(files, 0u) << "a temporary file was left behind";
}

}  // namespace
}  // namespace forensight::data
