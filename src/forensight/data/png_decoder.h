// PNG decoding through libpng: 1/2/4/8/16-bit, palette, gray, with or without alpha, interlaced,
// all to 8-bit RGB (16-bit keeps the high byte and alpha is dropped, as Pillow's convert("RGB")).
#pragma once
#include <cstdint>
#include <span>

#include "forensight/data/image.h"
#include "forensight/data/image_decoder.h"

namespace forensight::data {

// Header only (IHDR). Throws DecodeError for a bad signature or header.
ImageInfo read_png_info(std::span<const uint8_t> bytes);

// Refuses images over options.max_pixels after reading IHDR, before allocating pixel rows. libpng
// errors (bad CRC, truncated data) arrive through setjmp and become DecodeError with the reason.
Image decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options);

}  // namespace forensight::data
