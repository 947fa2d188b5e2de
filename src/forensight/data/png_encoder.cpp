// libpng writing to memory. As in the decoder, the libpng calls sit in a frame that owns no C++
// object, so a longjmp from libpng's error handler skips no destructor.
#include "forensight/data/png_encoder.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

struct PngSink {
  std::vector<uint8_t>* out;
  char error[256];
};

void on_error(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->error, sizeof(sink->error), "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void write_to_memory(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  sink->out->insert(sink->out->end(), data, data + length);
}

void flush_nothing(png_structp) {}

bool run_libpng(PngSink* sink, const Image* in, std::vector<png_bytep>* rows) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, on_error, on_warning);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, sink, write_to_memory, flush_nothing);
  png_set_IHDR(png, info, in->width, in->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows->data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& in) {
  FS_CHECK(in.width > 0 && in.height > 0 &&
               in.pixels.size() == static_cast<size_t>(in.width) * in.height * 3,
           "cannot encode a {}x{} image holding {} bytes", in.width, in.height, in.pixels.size());
  std::vector<uint8_t> out;
  PngSink sink{&out, "unknown libpng error"};
  std::vector<png_bytep> rows(in.height);
  for (int y = 0; y < in.height; ++y) rows[y] = const_cast<png_bytep>(in.row(y));
  if (!run_libpng(&sink, &in, &rows)) fail("PNG encoding failed: {}", sink.error);
  return out;
}

}  // namespace forensight::data
