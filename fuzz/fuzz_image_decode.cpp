// Image decoding as the loader and the service run it: format sniffing, the header read that the
// service checks against its pixel limit, then full and DCT-scaled decodes under a pixel limit.
// Beyond "no crash", the decoders must agree with their own header: a decoded full-size image has
// the size read_image_info reported, and exactly width * height * 3 bytes.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "forensight/core/error.h"
#include "forensight/data/image_decoder.h"

namespace {

// 4 megapixels: larger declared images are refused before any pixel buffer exists, which is the
// limit under test; the default 100 MP would let one input allocate 300 MB and slow the run.
constexpr int64_t kMaxPixels = 4'000'000;

void check_image(const forensight::data::Image& image) {
  if (image.width <= 0 || image.height <= 0 ||
      static_cast<int64_t>(image.width) * image.height > kMaxPixels ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    std::abort();  // a decoder returned an image that breaks data/image.h's contract
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace forensight::data;
  const std::span<const uint8_t> bytes(data, size);
  const ImageFormat format = detect_format(bytes);
  (void)format_name(format);
  ImageInfo info;
  bool have_info = false;
  try {
    info = read_image_info(bytes);
    have_info = true;
    if (info.format != format) std::abort();  // the header reader sniffed something else
  } catch (const forensight::DecodeError&) {
  }
  try {
    Image image = decode_image(bytes, DecodeOptions{.min_side_px = 0, .max_pixels = kMaxPixels});
    check_image(image);
    if (have_info && (image.width != info.width || image.height != info.height)) std::abort();
  } catch (const forensight::DecodeError&) {
  }
  try {
    // The loader's path: a JPEG is decoded straight to the smallest DCT scale covering 64 px.
    Image image = decode_image(bytes, DecodeOptions{.min_side_px = 64, .max_pixels = kMaxPixels});
    check_image(image);
  } catch (const forensight::DecodeError&) {
  }
  return 0;
}
