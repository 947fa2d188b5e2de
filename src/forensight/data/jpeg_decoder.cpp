// JPEG decoding through TurboJPEG with per-thread handles. CMYK/YCCK JPEGs decode to TJPF_CMYK and
// are converted here, because TurboJPEG refuses CMYK -> RGB; the arithmetic follows Pillow's so
// the C++ and Python paths see the same pixels.
#include "forensight/data/jpeg_decoder.h"

#include <spdlog/spdlog.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

#include "forensight/core/error.h"
#include "forensight/data/turbojpeg_handle.h"

namespace forensight::data {
namespace {

struct JpegHeader {
  int width = 0;
  int height = 0;
  int subsamp = 0;
  int colorspace = 0;
};

JpegHeader read_header(tjhandle handle, std::span<const uint8_t> bytes) {
  JpegHeader h;
  if (tjDecompressHeader3(handle, bytes.data(), bytes.size(), &h.width, &h.height, &h.subsamp,
                          &h.colorspace) != 0) {
    std::string message = tjGetErrorStr2(handle);
    reset_thread_jpeg_decompressor();
    throw DecodeError(fmt::format("bad JPEG header: {}", message));
  }
  if (h.width <= 0 || h.height <= 0)
    throw DecodeError(
        fmt::format("JPEG header declares an empty image ({}x{})", h.width, h.height));
  return h;
}

// True when an APP14 "Adobe" segment precedes the first scan: Adobe applications store CMYK
// inverted (0 = full ink), and libjpeg-turbo hands those values through unchanged.
bool has_adobe_marker(std::span<const uint8_t> bytes) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= bytes.size()) {
    if (bytes[pos] != 0xFF) return false;
    uint8_t marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return false;  // SOS or EOI: no more headers
    size_t length = (static_cast<size_t>(bytes[pos + 2]) << 8) | bytes[pos + 3];
    if (marker == 0xEE && length >= 7 && pos + 9 <= bytes.size() &&
        std::memcmp(bytes.data() + pos + 4, "Adobe", 5) == 0)
      return true;
    pos += 2 + length;
  }
  return false;
}

// Pillow's MULDIV255: a * b / 255 rounded, without a division.
inline uint8_t mul_div255(int a, int b) {
  int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

bool is_truncation_warning(const char* message) {
  std::string m(message);
  std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return std::tolower(c); });
  return m.find("premature end") != std::string::npos;
}

}  // namespace

JpegScale pick_jpeg_scale(int width, int height, int min_side_px) {
  JpegScale best;
  if (min_side_px <= 0) return best;
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  double best_ratio = 1.0;
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor& f = factors[i];
    if (f.num > f.denom) continue;  // never upscale in the DCT domain
    if (TJSCALED(width, f) < min_side_px || TJSCALED(height, f) < min_side_px) continue;
    double ratio = static_cast<double>(f.num) / f.denom;
    if (ratio < best_ratio) {
      best_ratio = ratio;
      best = {f.num, f.denom};
    }
  }
  return best;
}

ImageInfo read_jpeg_info(std::span<const uint8_t> bytes) {
  JpegHeader h = read_header(thread_jpeg_decompressor(), bytes);
  return {ImageFormat::kJpeg, h.width, h.height};
}

Image decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  Image image;
  decode_jpeg(bytes, options, image);
  return image;
}

void decode_jpeg(std::span<const uint8_t> bytes, const DecodeOptions& options, Image& image) {
  tjhandle handle = thread_jpeg_decompressor();
  JpegHeader h = read_header(handle, bytes);
  int64_t declared = static_cast<int64_t>(h.width) * h.height;
  if (declared > options.max_pixels)
    throw DecodeError(fmt::format("JPEG declares {}x{} = {} pixels, over the limit of {}", h.width,
                                  h.height, declared, options.max_pixels));

  JpegScale scale = pick_jpeg_scale(h.width, h.height, options.min_side_px);
  tjscalingfactor factor{scale.num, scale.denom};
  image.width = TJSCALED(h.width, factor);
  image.height = TJSCALED(h.height, factor);
  const size_t pixel_count = static_cast<size_t>(image.width) * image.height;
  const bool cmyk = h.colorspace == TJCS_CMYK || h.colorspace == TJCS_YCCK;

  std::vector<uint8_t> cmyk_pixels;  // (H, W, 4) uint8, only for CMYK/YCCK sources
  uint8_t* destination;
  int pixel_format;
  if (cmyk) {
    cmyk_pixels.resize(pixel_count * 4);
    destination = cmyk_pixels.data();
    pixel_format = TJPF_CMYK;
  } else {
    image.pixels.resize(pixel_count * 3);
    destination = image.pixels.data();
    pixel_format = TJPF_RGB;
  }
  if (tjDecompress2(handle, bytes.data(), bytes.size(), destination, image.width, /*pitch=*/0,
                    image.height, pixel_format, /*flags=*/0) != 0) {
    std::string message = tjGetErrorStr2(handle);
    const bool fatal = tjGetErrorCode(handle) == TJERR_FATAL;
    reset_thread_jpeg_decompressor();
    if (fatal || is_truncation_warning(message.c_str()))
      throw DecodeError(fmt::format("corrupt or truncated JPEG: {}", message));
    spdlog::debug("JPEG decoded with a warning: {}", message);
  }

  if (cmyk) {
    // Adobe-inverted values v = 255 - ink give R = vC * vK / 255; plain CMYK gives
    // R = (255 - C) * (255 - K) / 255 (Pillow's cmyk2rgb after its own inversion).
    const bool inverted = has_adobe_marker(bytes);
    image.pixels.resize(pixel_count * 3);
    for (size_t i = 0; i < pixel_count; ++i) {
      const uint8_t* in = &cmyk_pixels[i * 4];
      int c = inverted ? in[0] : 255 - in[0];
      int m = inverted ? in[1] : 255 - in[1];
      int y = inverted ? in[2] : 255 - in[2];
      int k = inverted ? in[3] : 255 - in[3];
      uint8_t* out = &image.pixels[i * 3];
      out[0] = mul_div255(c, k);
      out[1] = mul_div255(m, k);
      out[2] = mul_div255(y, k);
    }
  }
}

}  // namespace forensight::data
