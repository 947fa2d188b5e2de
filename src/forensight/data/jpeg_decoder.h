// JPEG decoding through TurboJPEG (libjpeg-turbo): baseline, progressive, grayscale and CMYK/YCCK
// to RGB, with DCT-domain scaling. The loader calls this from many threads at a high rate, so each
// thread keeps one decompressor handle for its lifetime instead of creating one per image.
#pragma once
#include <cstdint>
#include <span>

#include "forensight/data/image.h"
#include "forensight/data/image_decoder.h"

namespace forensight::data {

// Header only: width and height as declared. Throws DecodeError for a bad header.
ImageInfo read_jpeg_info(std::span<const uint8_t> bytes);

// Decodes to RGB at the smallest DCT scale M/8 (M <= 8) whose width and height are both
// >= options.min_side_px (full size when min_side_px is 0 or the image is already smaller).
// Refuses images over options.max_pixels before allocating. Throws DecodeError with the reason.
Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options);
// The same into `image`, reusing its memory (no allocation or zero-fill when it already holds an
// image of the decoded size).
void decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options, Image& image);

// The DCT scale decode_jpeg picks for an image of width x height: {num, denom}.
struct JpegScale {
  int num = 1;
  int denom = 1;
};
JpegScale pick_jpeg_scale(int width, int height, int min_side_px);

}  // namespace forensight::data
