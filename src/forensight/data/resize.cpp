// Pillow's Resample.c (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal/
// Vertical_8bpc) with the bilinear filter, line for line where it matters for bit-exactness: the
// double-precision coefficients, their 22-bit fixed-point rounding, and the clip to uint8.
#include "forensight/data/resize.h"

#include <cmath>
#include <vector>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Coefficients {
  int kernel_size = 0;
  std::vector<int> bounds;       // (out_size, 2): first input index, count
  std::vector<int32_t> weights;  // (out_size, kernel_size) fixed point
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

Coefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filter_scale;
  Coefficients c;
  c.kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  c.weights.assign(static_cast<size_t>(out_size) * c.kernel_size, 0);
  std::vector<double> k(c.kernel_size);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filter_scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double sum = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = triangle((x + xmin - center + 0.5) * ss);
      sum += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double w = sum != 0.0 ? k[x] / sum : k[x];
      c.weights[static_cast<size_t>(xx) * c.kernel_size + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.bounds[xx * 2] = xmin;
    c.bounds[xx * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// rows [row_first, row_first + out.height) of `in`, resampled horizontally into `out`.
void resample_horizontal(const Image& in, int row_first, const Coefficients& c, Image& out) {
  for (int yy = 0; yy < out.height; ++yy) {
    const uint8_t* src = in.row(yy + row_first);
    uint8_t* dst = out.row(yy);
    for (int xx = 0; xx < out.width; ++xx) {
      const int xmin = c.bounds[xx * 2], count = c.bounds[xx * 2 + 1];
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.kernel_size];
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < count; ++x) {
        const uint8_t* p = src + (x + xmin) * 3;
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[xx * 3] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// bounds are relative to the first row of `in`.
void resample_vertical(const Image& in, const Coefficients& c, int row_shift, Image& out) {
  const int row_values = out.width * 3;
  std::vector<int32_t> acc(row_values);
  for (int yy = 0; yy < out.height; ++yy) {
    const int ymin = c.bounds[yy * 2] - row_shift, count = c.bounds[yy * 2 + 1];
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.kernel_size];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < count; ++y) {
      const uint8_t* src = in.row(ymin + y);
      const int32_t w = k[y];
      for (int i = 0; i < row_values; ++i) acc[i] += src[i] * w;
    }
    uint8_t* dst = out.row(yy);
    for (int i = 0; i < row_values; ++i) dst[i] = clip8(acc[i]);
  }
}

}  // namespace

Image resize_bilinear_antialias(const Image& in, int width, int height) {
  FS_CHECK(width > 0 && height > 0, "resize target must be positive, got {}x{}", width, height);
  FS_CHECK(in.width > 0 && in.height > 0, "cannot resize an empty {}x{} image", in.width,
           in.height);
  if (width == in.width && height == in.height) return in;
  const Coefficients horizontal = precompute(in.width, width);
  const Coefficients vertical = precompute(in.height, height);
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int row_first = vertical.bounds[0];
  const int row_last = vertical.bounds[(height - 1) * 2] + vertical.bounds[(height - 1) * 2 + 1];

  const Image* source = &in;
  int row_shift = 0;
  Image temp;
  if (width != in.width) {
    temp.width = width;
    temp.height = row_last - row_first;
    temp.pixels.resize(static_cast<size_t>(temp.width) * temp.height * 3);
    resample_horizontal(in, row_first, horizontal, temp);
    source = &temp;
    row_shift = row_first;
  }
  if (height == in.height) return temp;
  Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  resample_vertical(*source, vertical, row_shift, out);
  return out;
}

Image resize_short_side(const Image& in, int short_side_px) {
  FS_CHECK(short_side_px > 0, "resize side must be positive, got {}", short_side_px);
  if (in.width <= in.height) {
    // Python's int(short * long / short_dim): exact product, correctly rounded division,
    // truncation.
    int h = static_cast<int>(static_cast<double>(static_cast<int64_t>(short_side_px) * in.height) /
                             in.width);
    return resize_bilinear_antialias(in, short_side_px, h);
  }
  int w = static_cast<int>(static_cast<double>(static_cast<int64_t>(short_side_px) * in.width) /
                           in.height);
  return resize_bilinear_antialias(in, w, short_side_px);
}

}  // namespace forensight::data
