// libpng decoding from memory. libpng reports errors by longjmp, so every libpng call sits in one
// function whose frame owns no C++ object; objects that must survive the jump live in the caller
// and the error text is copied into a plain buffer, then thrown as DecodeError after the return.
#include "forensight/data/png_decoder.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char error[256];
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* source = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(source->error, sizeof(source->error), "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > source->size - source->pos) png_error(png, "truncated PNG data");
  std::memcpy(out, source->data + source->pos, length);
  source->pos += length;
}

// Outcome of the libpng phase; `error` is set when it failed.
enum class PngStatus { kOk, kError, kOverLimit };

// All libpng calls. `image` and `rows` belong to the caller so no destructor is skipped by a
// longjmp. header_only stops after IHDR.
PngStatus run_libpng(PngSource* source, const DecodeOptions* options, bool header_only,
                     Image* image, std::vector<png_bytep>* rows, png_uint_32* width,
                     png_uint_32* height) {
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, source, on_png_error, on_png_warning);
  if (png == nullptr) {
    std::snprintf(source->error, sizeof(source->error), "cannot create a libpng reader");
    return PngStatus::kError;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(source->error, sizeof(source->error), "cannot create libpng info");
    return PngStatus::kError;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kError;
  }
  png_set_read_fn(png, source, read_from_memory);
  png_read_info(png, info);
  *width = png_get_image_width(png, info);
  *height = png_get_image_height(png, info);
  if (header_only) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kOk;
  }
  if (static_cast<int64_t>(*width) * static_cast<int64_t>(*height) > options->max_pixels) {
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kOverLimit;
  }

  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);  // high byte, like Pillow's "RGB;16B" raw mode
  if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  png_set_strip_alpha(png);  // also drops the alpha a tRNS chunk would add
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(*width) * 3) {
    std::snprintf(source->error, sizeof(source->error),
                  "unsupported PNG layout (color type %d, bit depth %d)", color_type, bit_depth);
    png_destroy_read_struct(&png, &info, nullptr);
    return PngStatus::kError;
  }
  image->width = static_cast<int>(*width);
  image->height = static_cast<int>(*height);
  image->pixels.resize(static_cast<size_t>(*width) * *height * 3);
  rows->resize(*height);
  for (png_uint_32 y = 0; y < *height; ++y) (*rows)[y] = image->row(static_cast<int>(y));
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return PngStatus::kOk;
}

}  // namespace

ImageInfo read_png_info(std::span<const uint8_t> bytes) {
  PngSource source{bytes.data(), bytes.size(), 0, {0}};
  std::vector<png_bytep> rows;
  Image unused;
  png_uint_32 width = 0, height = 0;
  if (run_libpng(&source, nullptr, /*header_only=*/true, &unused, &rows, &width, &height) !=
      PngStatus::kOk)
    throw DecodeError(fmt::format("bad PNG header: {}", source.error));
  return {ImageFormat::kPng, static_cast<int>(width), static_cast<int>(height)};
}

Image decode_png(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  PngSource source{bytes.data(), bytes.size(), 0, {0}};
  std::vector<png_bytep> rows;
  Image image;
  png_uint_32 width = 0, height = 0;
  switch (run_libpng(&source, &options, /*header_only=*/false, &image, &rows, &width, &height)) {
    case PngStatus::kOk:
      return image;
    case PngStatus::kOverLimit:
      throw DecodeError(fmt::format("PNG declares {}x{} = {} pixels, over the limit of {}", width,
                                    height, static_cast<int64_t>(width) * height,
                                    options.max_pixels));
    case PngStatus::kError:
      break;
  }
  throw DecodeError(fmt::format("corrupt or truncated PNG: {}", source.error));
}

}  // namespace forensight::data
