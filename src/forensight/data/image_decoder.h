// Decodes image file bytes (JPEG, PNG, WebP; detected by content, not extension) to 8-bit RGB.
// A JPEG can be decoded with libjpeg-turbo's DCT-domain scaling straight to the smallest scale
// that is still >= a target size, which is most of the speed of the loader.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "forensight/data/image.h"

namespace forensight::data {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp };

struct DecodeOptions {
  // Smallest acceptable output side for DCT-scaled JPEG decoding: the decoder picks the smallest
  // scale M/8 whose output still has width and height >= min_side_px. 0 = full size.
  int min_side_px = 0;
  // Images whose header declares more pixels are refused before any pixel buffer is allocated.
  int64_t max_pixels = 100'000'000;
};

struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;   // pixels, as declared by the header
  int height = 0;  // pixels
};

ImageFormat detect_format(std::span<const uint8_t> bytes);
const char* format_name(ImageFormat format);

// Reads only the header. Throws DecodeError with the reason for unknown formats or bad headers.
ImageInfo read_image_info(std::span<const uint8_t> bytes);

// Throws DecodeError (corrupt, truncated, unsupported, over max_pixels) with the reason.
Image decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options = {});

// Reads a whole file; throws DecodeError naming the path for unreadable or empty files.
std::vector<uint8_t> read_file_bytes(const std::string& path);
Image decode_image_file(const std::string& path, const DecodeOptions& options = {});
// The same, reusing the memory of `bytes` (the file) and `image` (the result): a loader worker
// decoding thousands of same-size images then allocates and zero-fills nothing per image.
void read_file_bytes(const std::string& path, std::vector<uint8_t>& bytes);
void decode_image_file(const std::string& path, const DecodeOptions& options,
                       std::vector<uint8_t>& bytes, Image& image);

}  // namespace forensight::data
