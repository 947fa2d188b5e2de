// Separable Gaussian blur: one horizontal and one vertical pass through a float buffer, so the
// cost is O(radius) per pixel rather than O(radius^2).
#include "forensight/data/blur.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace forensight::data {
namespace {

// scipy's "reflect" (half-sample symmetric): d c b a | a b c d | d c b a
inline int reflect(int i, int n) {
  if (n == 1) return 0;
  const int period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

}  // namespace

Image gaussian_blur(const Image& in, double sigma) {
  if (sigma <= 0.0 || in.width == 0 || in.height == 0) return in;
  const int radius = static_cast<int>(4.0 * sigma + 0.5);
  std::vector<float> kernel(2 * radius + 1);
  double sum = 0.0;
  for (int i = -radius; i <= radius; ++i) {
    double w = std::exp(-0.5 * i * i / (sigma * sigma));
    kernel[i + radius] = static_cast<float>(w);
    sum += w;
  }
  for (float& w : kernel) w = static_cast<float>(w / sum);

  const int w = in.width, h = in.height;
  std::vector<float> horizontal(static_cast<size_t>(w) * h * 3);  // (H, W, 3) float
  for (int y = 0; y < h; ++y) {
    const uint8_t* src = in.row(y);
    float* dst = &horizontal[static_cast<size_t>(y) * w * 3];
    for (int x = 0; x < w; ++x) {
      float a0 = 0, a1 = 0, a2 = 0;
      for (int k = -radius; k <= radius; ++k) {
        const uint8_t* p = src + reflect(x + k, w) * 3;
        const float kw = kernel[k + radius];
        a0 += kw * p[0];
        a1 += kw * p[1];
        a2 += kw * p[2];
      }
      dst[x * 3] = a0;
      dst[x * 3 + 1] = a1;
      dst[x * 3 + 2] = a2;
    }
  }
  Image out;
  out.width = w;
  out.height = h;
  out.pixels.resize(in.pixels.size());
  const int row_values = w * 3;
  std::vector<float> acc(row_values);
  for (int y = 0; y < h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int k = -radius; k <= radius; ++k) {
      const float* src = &horizontal[static_cast<size_t>(reflect(y + k, h)) * row_values];
      const float kw = kernel[k + radius];
      for (int i = 0; i < row_values; ++i) acc[i] += kw * src[i];
    }
    uint8_t* dst = out.row(y);
    for (int i = 0; i < row_values; ++i)
      dst[i] = static_cast<uint8_t>(std::clamp(std::lround(acc[i]), 0L, 255L));
  }
  return out;
}

}  // namespace forensight::data
