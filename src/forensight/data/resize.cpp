// Pillow's Resample.c (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal/
// Vertical_8bpc) with the bilinear filter, bit-exact: the double-precision coefficients, their
// 22-bit fixed-point rounding, the horizontal-then-vertical order and the clip to uint8. Only the
// bookkeeping differs, for speed (issue #2): every output of an axis gets the same number of taps
// (windows padded with zero weights, which add nothing to the integer sums), so the inner loops
// have a fixed trip count; the intermediate is planar, so the vertical pass vectorises and writes
// CHW planes; coefficient tables and scratch memory are kept per thread.
#include "forensight/data/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <memory>
#include <numeric>
#include <vector>

#include "forensight/core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace forensight::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
constexpr int kMaxFixedTaps = 8;  // tap counts with an unrolled kernel; larger ones use a loop

// One axis: output i is the weighted sum of inputs first[i] .. first[i] + taps - 1.
struct AxisCoefficients {
  int in_size = 0;
  int out_size = 0;
  int taps = 0;
  std::vector<int> first;        // (out_size) first input index
  std::vector<int32_t> weights;  // (out_size, taps) fixed point, zero outside Pillow's window
  // The same weights for the AVX2 horizontal pass: per output and group of 4 taps, 16 int16 of
  // the low 11 bits (w & 2047) then 16 of the high bits (w >> 11), laid out as
  // [k0 k1 k0 k1 k0 k1 0 0 | k2 k3 k2 k3 k2 k3 0 0] to meet an RGB window shuffled into
  // [R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0]. Empty when taps > 8.
  std::vector<int16_t> split;
};

constexpr int kSplitBits = 11;  // w = (w >> 11) * 2^11 + (w & 2047); both halves fit int16

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

AxisCoefficients precompute(int in_size, int out_size) {
  AxisCoefficients c;
  c.in_size = in_size;
  c.out_size = out_size;
  if (in_size == out_size) {  // Pillow skips the pass; one tap of weight 1.0 is the same identity
    c.taps = 1;
    c.first.resize(out_size);
    std::iota(c.first.begin(), c.first.end(), 0);
    c.weights.assign(out_size, 1 << kPrecisionBits);
    return c;
  }
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filter_scale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filter_scale;
  const int kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
  std::vector<int> xmins(out_size), counts(out_size);
  std::vector<int32_t> pillow_weights(static_cast<size_t>(out_size) * kernel_size, 0);
  std::vector<double> k(kernel_size);
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
      pillow_weights[static_cast<size_t>(xx) * kernel_size + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    xmins[xx] = xmin;
    counts[xx] = xmax;
  }
  // Pad every window to the widest one, sliding it left where it would pass the last input
  // (counts never exceed in_size, so the padded window always fits).
  c.taps = std::max(1, *std::max_element(counts.begin(), counts.end()));
  c.first.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps, 0);
  for (int xx = 0; xx < out_size; ++xx) {
    c.first[xx] = std::min(xmins[xx], in_size - c.taps);
    const int shift = xmins[xx] - c.first[xx];
    for (int x = 0; x < counts[xx]; ++x)
      c.weights[static_cast<size_t>(xx) * c.taps + shift + x] =
          pillow_weights[static_cast<size_t>(xx) * kernel_size + x];
  }
  if (c.taps <= 8) {
    const int groups = (c.taps + 3) / 4;
    c.split.assign(static_cast<size_t>(out_size) * groups * 32, 0);
    for (int xx = 0; xx < out_size; ++xx) {
      for (int t = 0; t < c.taps; ++t) {
        const int32_t w = c.weights[static_cast<size_t>(xx) * c.taps + t];
        const int group = t / 4, lane = (t % 4) / 2, pair = t % 2;
        int16_t* lo = &c.split[(static_cast<size_t>(xx) * groups + group) * 32];
        int16_t* hi = lo + 16;
        for (int channel = 0; channel < 3; ++channel) {
          lo[lane * 8 + channel * 2 + pair] = static_cast<int16_t>(w & ((1 << kSplitBits) - 1));
          hi[lane * 8 + channel * 2 + pair] = static_cast<int16_t>(w >> kSplitBits);
        }
      }
    }
  }
  return c;
}

// The coefficient tables of the last few geometries this thread resized: a loader worker resizes
// every image of a dataset from the same decoded size to the same output size.
std::shared_ptr<const AxisCoefficients> coefficients(int in_size, int out_size) {
  constexpr size_t kCachedAxes = 8;
  thread_local std::vector<std::shared_ptr<const AxisCoefficients>> cache;
  for (const auto& c : cache)
    if (c->in_size == in_size && c->out_size == out_size) return c;
  if (cache.size() == kCachedAxes) cache.erase(cache.begin());
  cache.push_back(std::make_shared<const AxisCoefficients>(precompute(in_size, out_size)));
  return cache.back();
}

// Pillow's clip8, written as a clamp so that it vectorises: v >= 2^30 gives 255, v <= 0 gives 0.
inline uint8_t clip8(int32_t v) {
  return static_cast<uint8_t>(std::min(std::max(v, 0) >> kPrecisionBits, 255));
}

// One output pixel of the horizontal pass: the window of `taps` RGB pixels at p weighted by k.
__attribute__((always_inline)) inline void resample_window(const uint8_t* p, const int32_t* k,
                                                           int taps, uint8_t* r, uint8_t* g,
                                                           uint8_t* b) {
  int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
  for (int x = 0; x < taps; ++x) {
    s0 += p[x * 3] * k[x];
    s1 += p[x * 3 + 1] * k[x];
    s2 += p[x * 3 + 2] * k[x];
  }
  *r = clip8(s0);
  *g = clip8(s1);
  *b = clip8(s2);
}

// Rows [row_first, row_first + rows) of `in` resampled horizontally into three planes, each
// (rows, c.out_size) uint8, at planes + channel * rows * c.out_size.
template <int kTaps>
void horizontal_pass(const Image& in, int row_first, int rows, const AxisCoefficients& c,
                     uint8_t* planes) {
  const int taps = kTaps > 0 ? kTaps : c.taps;
  const size_t plane = static_cast<size_t>(rows) * c.out_size;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in.row(row_first + y);
    uint8_t* r = planes + static_cast<size_t>(y) * c.out_size;
    uint8_t* g = r + plane;
    uint8_t* b = g + plane;
    const int32_t* k = c.weights.data();
    for (int xx = 0; xx < c.out_size; ++xx, k += taps)
      resample_window(src + static_cast<size_t>(c.first[xx]) * 3, k, taps, r + xx, g + xx, b + xx);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define FORENSIGHT_HAVE_AVX2_PASS 1
// horizontal_pass with AVX2, bit-exact: each window of up to 4 RGB pixels is loaded once,
// shuffled into 16-bit channel pairs and multiplied by both weight halves (vpmaddwd), so
// sum = (sum of p * (w >> 11)) * 2^11 + sum of p * (w & 2047) is the scalar pass's integer sum.
// Four outputs are finished together (rounding, clamp, planar stores), which keeps the vector unit
// busy across their independent windows. Windows whose 16-byte loads would pass the end of the
// image, at most the last few of the last row, go through the scalar code.
__attribute__((target("avx2"), always_inline)) inline __m128i window_sum(const uint8_t* p,
                                                                         const int16_t* k,
                                                                         int groups) {
  // Per 128-bit lane: lane 0 takes pixels 0 and 1 of the group, lane 1 pixels 2 and 3.
  const __m256i shuffle =
      _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7,
                       -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
  for (int group = 0; group < groups; ++group, p += 12, k += 32) {
    const __m256i pixels = _mm256_shuffle_epi8(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
        shuffle);  // [R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0] int16
    lo = _mm256_add_epi32(
        lo, _mm256_madd_epi16(pixels, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k))));
    hi = _mm256_add_epi32(
        hi,
        _mm256_madd_epi16(pixels, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + 16))));
  }
  // [R G B 0 | R G B 0] int32 -> the two lanes added, + half, >> 22
  const __m256i sum = _mm256_add_epi32(_mm256_slli_epi32(hi, kSplitBits), lo);
  const __m128i total =
      _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
  return _mm_srai_epi32(_mm_add_epi32(total, _mm_set1_epi32(kHalf)), kPrecisionBits);
}

__attribute__((target("avx2"))) void horizontal_pass_avx2(const Image& in, int row_first, int rows,
                                                          const AxisCoefficients& c,
                                                          uint8_t* planes) {
  const int groups = (c.taps + 3) / 4;
  const size_t window = static_cast<size_t>(12) * (groups - 1) + 16;  // bytes each window loads
  const size_t plane = static_cast<size_t>(rows) * c.out_size;
  const uint8_t* end = in.pixels.data() + in.pixels.size();
  // [R0 G0 B0 0 R1 G1 B1 0 R2 .. B3 0] -> [R0 R1 R2 R3 G0 .. G3 B0 .. B3 ..]
  const __m128i to_planes = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = in.row(row_first + y);
    uint8_t* r = planes + static_cast<size_t>(y) * c.out_size;
    uint8_t* g = r + plane;
    uint8_t* b = g + plane;
    auto at = [&](int xx) { return src + static_cast<size_t>(c.first[xx]) * 3; };
    auto weights = [&](int xx) { return &c.split[static_cast<size_t>(xx) * groups * 32]; };
    int xx = 0;
    // Windows only move right, so the fourth one's load bounds the other three.
    for (; xx + 4 <= c.out_size && at(xx + 3) + window <= end; xx += 4) {
      const __m128i s0 = window_sum(at(xx), weights(xx), groups);
      const __m128i s1 = window_sum(at(xx + 1), weights(xx + 1), groups);
      const __m128i s2 = window_sum(at(xx + 2), weights(xx + 2), groups);
      const __m128i s3 = window_sum(at(xx + 3), weights(xx + 3), groups);
      // Saturating packs clamp to [0, 255] as clip8 does.
      const __m128i bytes = _mm_shuffle_epi8(
          _mm_packus_epi16(_mm_packs_epi32(s0, s1), _mm_packs_epi32(s2, s3)), to_planes);
      const uint32_t rs = static_cast<uint32_t>(_mm_extract_epi32(bytes, 0));
      const uint32_t gs = static_cast<uint32_t>(_mm_extract_epi32(bytes, 1));
      const uint32_t bs = static_cast<uint32_t>(_mm_extract_epi32(bytes, 2));
      std::memcpy(r + xx, &rs, 4);
      std::memcpy(g + xx, &gs, 4);
      std::memcpy(b + xx, &bs, 4);
    }
    for (; xx < c.out_size; ++xx)  // the scalar pass
      resample_window(at(xx), &c.weights[static_cast<size_t>(xx) * c.taps], c.taps, r + xx, g + xx,
                      b + xx);
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// One output row of one plane: dst[x] = sum over t of src[t * stride + x] * k[t].
template <int kTaps>
__attribute__((always_inline)) inline void vertical_row(const uint8_t* __restrict src,
                                                        size_t stride, const int32_t* k, int width,
                                                        uint8_t* __restrict dst) {
  int32_t w[kTaps];
  for (int t = 0; t < kTaps; ++t) w[t] = k[t];
  for (int x = 0; x < width; ++x) {
    int32_t s = kHalf;
    for (int t = 0; t < kTaps; ++t) s += src[t * stride + x] * w[t];
    dst[x] = clip8(s);
  }
}

// Any tap count: accumulate row by row into acc ((width) int32).
__attribute__((always_inline)) inline void vertical_row_any(const uint8_t* src, size_t stride,
                                                            const int32_t* k, int taps, int width,
                                                            int32_t* __restrict acc,
                                                            uint8_t* __restrict dst) {
  std::fill(acc, acc + width, kHalf);
  for (int t = 0; t < taps; ++t) {
    const uint8_t* __restrict row = src + t * stride;
    const int32_t w = k[t];
    for (int x = 0; x < width; ++x) acc[x] += row[x] * w;
  }
  for (int x = 0; x < width; ++x) dst[x] = clip8(acc[x]);
}

// planes: three (rows, width) planes whose row 0 is input row row_first -> out: (3, c.out_size,
// width).
template <int kTaps>
__attribute__((always_inline)) inline void vertical_pass_body(const uint8_t* planes, int rows,
                                                              int width, int row_first,
                                                              const AxisCoefficients& c,
                                                              uint8_t* out) {
  std::vector<int32_t> acc(kTaps > 0 ? 0 : width);
  for (int channel = 0; channel < 3; ++channel) {
    const uint8_t* plane_in = planes + static_cast<size_t>(channel) * rows * width;
    uint8_t* plane_out = out + static_cast<size_t>(channel) * c.out_size * width;
    for (int yy = 0; yy < c.out_size; ++yy) {
      const uint8_t* src = plane_in + static_cast<size_t>(c.first[yy] - row_first) * width;
      const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.taps];
      uint8_t* dst = plane_out + static_cast<size_t>(yy) * width;
      if constexpr (kTaps > 0)
        vertical_row<kTaps>(src, width, k, width, dst);
      else
        vertical_row_any(src, width, k, c.taps, width, acc.data(), dst);
    }
  }
}

template <int kTaps>
void vertical_pass(const uint8_t* planes, int rows, int width, int row_first,
                   const AxisCoefficients& c, uint8_t* out) {
  vertical_pass_body<kTaps>(planes, rows, width, row_first, c, out);
}

#ifdef FORENSIGHT_HAVE_AVX2_PASS
// The same code compiled for AVX2 (8 int32 lanes and vpmulld instead of SSE2's 4 lanes and
// emulated 32-bit multiplies); the integer arithmetic, and so the result, is the same.
template <int kTaps>
__attribute__((target("avx2"))) void vertical_pass_avx2(const uint8_t* planes, int rows, int width,
                                                        int row_first, const AxisCoefficients& c,
                                                        uint8_t* out) {
  vertical_pass_body<kTaps>(planes, rows, width, row_first, c, out);
}
#endif

// Each pass unrolled for 1 .. kMaxFixedTaps taps; entry 0 takes any count.
using HorizontalPass = void (*)(const Image&, int, int, const AxisCoefficients&, uint8_t*);
using VerticalPass = void (*)(const uint8_t*, int, int, int, const AxisCoefficients&, uint8_t*);
constexpr HorizontalPass kHorizontalPasses[] = {
    horizontal_pass<0>, horizontal_pass<1>, horizontal_pass<2>,
    horizontal_pass<3>, horizontal_pass<4>, horizontal_pass<5>,
    horizontal_pass<6>, horizontal_pass<7>, horizontal_pass<8>};
constexpr VerticalPass kVerticalPasses[] = {vertical_pass<0>, vertical_pass<1>, vertical_pass<2>,
                                            vertical_pass<3>, vertical_pass<4>, vertical_pass<5>,
                                            vertical_pass<6>, vertical_pass<7>, vertical_pass<8>};
static_assert(std::size(kHorizontalPasses) == kMaxFixedTaps + 1 &&
              std::size(kVerticalPasses) == kMaxFixedTaps + 1);
#ifdef FORENSIGHT_HAVE_AVX2_PASS
constexpr VerticalPass kVerticalPassesAvx2[] = {
    vertical_pass_avx2<0>, vertical_pass_avx2<1>, vertical_pass_avx2<2>,
    vertical_pass_avx2<3>, vertical_pass_avx2<4>, vertical_pass_avx2<5>,
    vertical_pass_avx2<6>, vertical_pass_avx2<7>, vertical_pass_avx2<8>};
static_assert(std::size(kVerticalPassesAvx2) == kMaxFixedTaps + 1);
#endif

int pass_index(int taps) {
  return taps <= kMaxFixedTaps ? taps : 0;
}

void check_sizes(const Image& in, int width, int height) {
  FS_CHECK(width > 0 && height > 0, "resize target must be positive, got {}x{}", width, height);
  FS_CHECK(in.width > 0 && in.height > 0, "cannot resize an empty {}x{} image", in.width,
           in.height);
  FS_CHECK(in.pixels.size() == static_cast<size_t>(in.width) * in.height * 3,
           "image of {}x{} holds {} bytes, expected {}", in.width, in.height, in.pixels.size(),
           static_cast<size_t>(in.width) * in.height * 3);
}

}  // namespace

void resize_bilinear_antialias_chw(const Image& in, int width, int height, uint8_t* out) {
  check_sizes(in, width, height);
  const auto horizontal = coefficients(in.width, width);
  const auto vertical = coefficients(in.height, height);
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int row_first = vertical->first.front();
  const int rows = vertical->first.back() + vertical->taps - row_first;
  thread_local std::vector<uint8_t> planes;  // (3, rows, width) uint8, the intermediate
  planes.resize(static_cast<size_t>(3) * rows * width);
#ifdef FORENSIGHT_HAVE_AVX2_PASS
  if (!horizontal->split.empty() && cpu_has_avx2())
    horizontal_pass_avx2(in, row_first, rows, *horizontal, planes.data());
  else
#endif
    kHorizontalPasses[pass_index(horizontal->taps)](in, row_first, rows, *horizontal,
                                                    planes.data());
  const VerticalPass* vertical_passes = kVerticalPasses;
#ifdef FORENSIGHT_HAVE_AVX2_PASS
  if (cpu_has_avx2()) vertical_passes = kVerticalPassesAvx2;
#endif
  vertical_passes[pass_index(vertical->taps)](planes.data(), rows, width, row_first, *vertical,
                                              out);
}

Image resize_bilinear_antialias(const Image& in, int width, int height) {
  check_sizes(in, width, height);
  if (width == in.width && height == in.height) return in;
  thread_local std::vector<uint8_t> chw;  // (3, height, width) uint8
  const size_t plane = static_cast<size_t>(width) * height;
  chw.resize(3 * plane);
  resize_bilinear_antialias_chw(in, width, height, chw.data());
  Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(3 * plane);
  for (size_t i = 0; i < plane; ++i) {
    out.pixels[3 * i] = chw[i];
    out.pixels[3 * i + 1] = chw[plane + i];
    out.pixels[3 * i + 2] = chw[2 * plane + i];
  }
  return out;
}

std::pair<int, int> short_side_size(int width, int height, int short_side_px) {
  FS_CHECK(short_side_px > 0, "resize side must be positive, got {}", short_side_px);
  FS_CHECK(width > 0 && height > 0, "cannot resize an empty {}x{} image", width, height);
  // Python's int(short * long / short_dim): exact product, correctly rounded division, truncation.
  if (width <= height)
    return {short_side_px,
            static_cast<int>(static_cast<double>(static_cast<int64_t>(short_side_px) * height) /
                             width)};
  return {
      static_cast<int>(static_cast<double>(static_cast<int64_t>(short_side_px) * width) / height),
      short_side_px};
}

Image resize_short_side(const Image& in, int short_side_px) {
  const auto [width, height] = short_side_size(in.width, in.height, short_side_px);
  return resize_bilinear_antialias(in, width, height);
}

}  // namespace forensight::data
