// WebP decoding through libwebp (lossy and lossless; alpha is dropped as Pillow's convert("RGB")).
#pragma once
#include <cstdint>
#include <span>

#include "forensight/data/image.h"
#include "forensight/data/image_decoder.h"

namespace forensight::data {

ImageInfo read_webp_info(std::span<const uint8_t> bytes);
// Refuses images over options.max_pixels before allocating. Throws DecodeError with the reason.
Image decode_webp(std::span<const uint8_t> bytes, const DecodeOptions& options);

}  // namespace forensight::data
