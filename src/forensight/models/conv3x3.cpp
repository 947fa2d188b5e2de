// The weight gradient as a GEMM, laid out for an AVX2 register tile:
//   dW_s[o][c] += sum over positions k of A[k][o] * B_s[k][c],   s = (kh, kw), one of 9 shifts,
// where k runs over the output positions (n, oh, ow), A[k][o] = dY[n][o][oh][ow] and
// B_s[k][c] = X[n][c][oh*stride + kh - 1][ow*stride + kw - 1] (0 outside the image).
// - B is X copied once into a zero-bordered, channel-blocked layout (B, C/16, H+2, W+2, 16): the
//   16 channels of one position are one 64-byte line, a shift is a pointer offset, and the border
//   replaces every bounds check.
// - A is packed per block of ~200 positions into panels of up to 6 output channels: (k, 6).
// - The tile keeps a 6x16 block of dW_s in 12 AVX registers and walks k: per position 6
//   broadcasts of A, 2 loads of B, 12 FMAs. A block's panel of B (~20 KB) stays in L1 across
//   every tile and all nine shifts.
// - Threads split the output channels, so no two threads write the same weight and no reduction
//   is needed.
#include "forensight/models/conv3x3.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/parallel.h"
#include "forensight/models/memory_format.h"
#include "forensight/models/shape.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define FORENSIGHT_CONV3X3_KERNEL 1
#endif

namespace forensight::models {
namespace {

constexpr int64_t kLanes = 16;  // input channels per block: two 8-lane vectors

#if defined(FORENSIGHT_CONV3X3_KERNEL)
#define FS_AVX2_FMA __attribute__((target("avx2,fma")))

constexpr int kTileRows = 6;              // output channels per register tile
constexpr int64_t kBlockPositions = 192;  // output positions per packed block of A

// dst[j * dst_stride + i] = src[i * src_stride + j] for an 8x8 block.
FS_AVX2_FMA inline void transpose_8x8(const float* src, int64_t src_stride, float* dst,
                                      int64_t dst_stride) {
  __m256 r[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  __m256 t[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

// dst[j * dst_stride + i] = src[i * src_stride + j] for i < rows, j < cols.
FS_AVX2_FMA void transpose(const float* src, int64_t rows, int64_t cols, int64_t src_stride,
                           float* dst, int64_t dst_stride) {
  const int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (int64_t i = 0; i < rows8; i += 8) {
    for (int64_t j = 0; j < cols8; j += 8)
      transpose_8x8(src + i * src_stride + j, src_stride, dst + j * dst_stride + i, dst_stride);
    for (int64_t j = cols8; j < cols; ++j)
      for (int64_t k = i; k < i + 8; ++k) dst[j * dst_stride + k] = src[k * src_stride + j];
  }
  for (int64_t i = rows8; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
}

// c (ROWS, 16) with row stride ldc += a^T b over the positions of `rows` output rows:
// a: packed (rows * row_len, ROWS); b + row_offsets[q]: the first of row q's row_len positions in
// the blocked input, one position every b_step floats. Named accumulators, not an array: GCC keeps
// an array of vectors in memory across the loop.
template <int ROWS>
FS_AVX2_FMA void tile(const float* a, const float* b, int64_t b_step, const int64_t* row_offsets,
                      int64_t rows, int64_t row_len, float* c, int64_t ldc) {
  static_assert(ROWS >= 1 && ROWS <= kTileRows);
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#define FS_TILE_ROW(r, body) \
  if constexpr (ROWS > r) {  \
    body;                    \
  }
#define FS_LOAD(r) \
  FS_TILE_ROW(r, c##r##0 = _mm256_loadu_ps(c + r * ldc); c##r##1 = _mm256_loadu_ps(c + r * ldc + 8))
#define FS_FMA(r)                                             \
  FS_TILE_ROW(r, const __m256 s = _mm256_broadcast_ss(a + r); \
              c##r##0 = _mm256_fmadd_ps(s, b0, c##r##0);      \
              c##r##1 = _mm256_fmadd_ps(s, b1, c##r##1))
#define FS_STORE(r) \
  FS_TILE_ROW(r, _mm256_storeu_ps(c + r * ldc, c##r##0); _mm256_storeu_ps(c + r * ldc + 8, c##r##1))
  FS_LOAD(0)
  FS_LOAD(1) FS_LOAD(2) FS_LOAD(3) FS_LOAD(4) FS_LOAD(5) for (int64_t q = 0; q < rows; ++q) {
    const float* bp = b + row_offsets[q];
    // Unrolled: 4 positions per iteration take the loop from ~80% to ~95% of the FMA peak.
#pragma GCC unroll 4
    for (int64_t i = 0; i < row_len; ++i) {
      const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
      FS_FMA(0) FS_FMA(1) FS_FMA(2) FS_FMA(3) FS_FMA(4) FS_FMA(5) a += ROWS;
      bp += b_step;
    }
  }
  FS_STORE(0) FS_STORE(1) FS_STORE(2) FS_STORE(3) FS_STORE(4) FS_STORE(5)
#undef FS_STORE
#undef FS_FMA
#undef FS_LOAD
#undef FS_TILE_ROW
}

using TileFn = void (*)(const float*, const float*, int64_t, const int64_t*, int64_t, int64_t,
                        float*, int64_t);

TileFn tile_for(int rows) {
  switch (rows) {
    case 1:
      return tile<1>;
    case 2:
      return tile<2>;
    case 3:
      return tile<3>;
    case 4:
      return tile<4>;
    case 5:
      return tile<5>;
    default:
      return tile<6>;
  }
}

// Output channels [begin, begin + count) as register tiles of 6, ending in 4+4 rather than 6+2:
// a tile of 2 rows has too few independent FMA chains to hide their latency.
std::vector<int> tile_heights(int64_t count) {
  std::vector<int> heights;
  while (count > 0) {
    const int rows = (count >= kTileRows && count != 8) ? kTileRows
                     : count >= 4                       ? 4
                                                        : static_cast<int>(count);
    heights.push_back(rows);
    count -= rows;
  }
  return heights;
}

struct Geometry {
  int64_t batch, channels, height, width;  // x
  int64_t out_channels, out_height, out_width, stride;
  int64_t padded_height() const { return height + 2; }
  int64_t padded_width() const { return width + 2; }
  int64_t channel_blocks() const { return channels / kLanes; }
  int64_t block_plane() const { return padded_height() * padded_width() * kLanes; }
};

// x (B, C, H, W), NCHW or NHWC in memory -> xb (B, C/16, H+2, W+2, 16), zero border.
void block_input(const float* x, bool x_channels_last, const Geometry& g, float* xb) {
  const int64_t blocks = g.channel_blocks(), pw = g.padded_width(), plane = g.block_plane();
  at::parallel_for(0, g.batch * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t n = i / blocks, block = i % blocks;
      float* out = xb + i * plane;
      std::fill(out, out + pw * kLanes, 0.f);                                    // top border
      std::fill(out + (g.padded_height() - 1) * pw * kLanes, out + plane, 0.f);  // bottom
      for (int64_t h = 0; h < g.height; ++h) {
        float* row = out + (h + 1) * pw * kLanes;
        std::fill(row, row + kLanes, 0.f);                           // left border
        std::fill(row + (pw - 1) * kLanes, row + pw * kLanes, 0.f);  // right border
        if (x_channels_last) {
          // the 16 channels of a position are already adjacent: W copies of 64 bytes
          const float* in = x + ((n * g.height + h) * g.width) * g.channels + block * kLanes;
          for (int64_t w = 0; w < g.width; ++w)
            std::copy_n(in + w * g.channels, kLanes, row + (w + 1) * kLanes);
        } else {
          // 16 channels x W positions -> W positions x 16 channels
          const float* in = x + (n * g.channels + block * kLanes) * g.height * g.width;
          transpose(in + h * g.width, kLanes, g.width, g.height * g.width, row + kLanes, kLanes);
        }
      }
    }
  });
}

// acc (9, O, C) += the gradient's share of output channels [o_begin, o_end), all positions.
// grad_out is (B, O, Ho, Wo), NCHW or NHWC in memory.
void accumulate_channels(const float* grad_out, bool grad_channels_last, const float* xb,
                         const Geometry& g, int64_t o_begin, int64_t o_end, float* acc) {
  const std::vector<int> heights = tile_heights(o_end - o_begin);
  if (heights.empty()) return;
  const int64_t total_rows = g.batch * g.out_height;  // output rows (n, oh)
  const int64_t block_rows = std::max<int64_t>(1, kBlockPositions / g.out_width);
  const int64_t pw = g.padded_width(), blocks = g.channel_blocks();
  const int64_t out_plane = g.out_height * g.out_width;
  // Per output row of the block: where it starts in X's blocked copy and in dY's channel 0.
  // dY's element (o, ow) of a row is at grad_rows[q] + o * o_step + ow * w_step.
  const int64_t o_step = grad_channels_last ? 1 : out_plane;
  const int64_t w_step = grad_channels_last ? g.out_channels : 1;
  std::vector<int64_t> row_offsets(block_rows), grad_rows(block_rows);
  std::vector<float> packed(block_rows * g.out_width * (o_end - o_begin));
  for (int64_t q0 = 0; q0 < total_rows; q0 += block_rows) {
    const int64_t rows = std::min(block_rows, total_rows - q0);
    for (int64_t q = 0; q < rows; ++q) {
      const int64_t n = (q0 + q) / g.out_height, oh = (q0 + q) % g.out_height;
      row_offsets[q] = (n * blocks * g.padded_height() + oh * g.stride) * pw * kLanes;
      grad_rows[q] = n * g.out_channels * out_plane + oh * g.out_width * w_step;
    }
    // A: for each tile, (rows * Wo, tile height), from dY's planes.
    float* dst = packed.data();
    for (int64_t o0 = o_begin; int height : heights) {
      for (int64_t q = 0; q < rows; ++q) {
        const float* src = grad_out + grad_rows[q] + o0 * o_step;
        if (grad_channels_last) {  // a position's channels are adjacent in both
          for (int64_t w = 0; w < g.out_width; ++w)
            std::copy_n(src + w * w_step, height, dst + w * height);
        } else {
          for (int r = 0; r < height; ++r)
            for (int64_t w = 0; w < g.out_width; ++w) dst[w * height + r] = src[r * o_step + w];
        }
        dst += g.out_width * height;
      }
      o0 += height;
    }
    for (int64_t block = 0; block < blocks; ++block) {
      const float* b = xb + block * g.block_plane();
      const float* a = packed.data();
      for (int64_t o0 = o_begin; int height : heights) {
        const TileFn fn = tile_for(height);
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw)
            fn(a, b + (kh * pw + kw) * kLanes, g.stride * kLanes, row_offsets.data(), rows,
               g.out_width,
               acc + ((kh * 3 + kw) * g.out_channels + o0) * g.channels + block * kLanes,
               g.channels);
        a += rows * g.out_width * height;
        o0 += height;
      }
    }
  }
}
#endif  // FORENSIGHT_CONV3X3_KERNEL

struct Conv3x3Function : torch::autograd::Function<Conv3x3Function> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, int64_t stride) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stride"] = stride;
    return at::conv2d(x, weight, /*bias=*/{}, stride, /*padding=*/1);  // (B, O, Ho, Wo)
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const int64_t stride = ctx->saved_data["stride"].toInt();
    // (B, O, Ho, Wo), in x's memory format: oneDNN runs channels-last without layout reorders
    const torch::Tensor grad_out = grads[0].contiguous(x.suggest_memory_format());
    torch::Tensor grad_x, grad_weight;
    if (ctx->needs_input_grad(0))
      grad_x = std::get<0>(at::convolution_backward(
          grad_out, x, weight, /*bias_sizes=*/std::nullopt, {stride, stride}, {1, 1}, {1, 1},
          /*transposed=*/false, {0, 0}, /*groups=*/1, {true, false, false}));
    if (ctx->needs_input_grad(1))
      grad_weight = conv3x3_weight_grad(x, grad_out, stride, weight.suggest_memory_format());
    return {grad_x, grad_weight, torch::Tensor()};
  }
};

}  // namespace

bool conv3x3_kernel_available() {
#if defined(FORENSIGHT_CONV3X3_KERNEL)
  static const bool available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return available;
#else
  return false;
#endif
}

torch::Tensor conv3x3_weight_grad(const torch::Tensor& x, const torch::Tensor& grad_out,
                                  int64_t stride, torch::MemoryFormat weight_format) {
  FS_CHECK(conv3x3_kernel_available(),
           "conv3x3_weight_grad needs an x86-64 CPU with AVX2 and FMA; this one has not");
  FS_CHECK(stride >= 1, "conv3x3_weight_grad: stride must be >= 1, got {}", stride);
  for (const auto* t : {&x, &grad_out})
    FS_CHECK(t->dim() == 4 && t->scalar_type() == torch::kFloat32 && t->device().is_cpu() &&
                 is_dense_nchw_or_nhwc(*t),
             "conv3x3_weight_grad takes float32 (B, C, H, W) CPU tensors, contiguous or "
             "channels-last, got {} {} on {}",
             format_shape(t->sizes()), c10::toString(t->scalar_type()), t->device().str());
#if defined(FORENSIGHT_CONV3X3_KERNEL)
  const Geometry g{x.size(0),
                   x.size(1),
                   x.size(2),
                   x.size(3),
                   grad_out.size(1),
                   (x.size(2) - 1) / stride + 1,
                   (x.size(3) - 1) / stride + 1,
                   stride};
  FS_CHECK(g.channels % kLanes == 0 && g.channels > 0,
           "conv3x3_weight_grad needs input channels in multiples of {}, got {}", kLanes,
           g.channels);
  FS_CHECK(g.height >= 1 && g.width >= 1, "conv3x3_weight_grad: empty input {}",
           format_shape(x.sizes()));
  FS_CHECK(grad_out.size(0) == g.batch && grad_out.size(2) == g.out_height &&
               grad_out.size(3) == g.out_width,
           "conv3x3_weight_grad: grad_out {} does not match input {} at stride {} (expected "
           "({}, O, {}, {}))",
           format_shape(grad_out.sizes()), format_shape(x.sizes()), stride, g.batch, g.out_height,
           g.out_width);
  auto xb = torch::empty({g.batch, g.channel_blocks(), g.padded_height(), g.padded_width(), kLanes},
                         x.options());
  block_input(x.data_ptr<float>(), is_channels_last(x), g, xb.data_ptr<float>());
  auto acc = torch::zeros({9, g.out_channels, g.channels}, x.options());  // (kh*3+kw, O, C)
  // One contiguous range of output channels per thread, in pairs so the tiles stay whole.
  const int64_t threads = at::get_num_threads(), pairs = (g.out_channels + 1) / 2;
  at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t)
      accumulate_channels(
          grad_out.data_ptr<float>(), is_channels_last(grad_out), xb.data_ptr<float>(), g,
          std::min(g.out_channels, pairs * t / threads * 2),
          std::min(g.out_channels, pairs * (t + 1) / threads * 2), acc.data_ptr<float>());
  });
  // (9, O, C) -> (O, C, 3, 3), in the weight's memory format
  if (weight_format == torch::MemoryFormat::ChannelsLast)  // (O, 3, 3, C) in memory
    return acc.permute({1, 0, 2})
        .contiguous()
        .view({g.out_channels, 3, 3, g.channels})
        .permute({0, 3, 1, 2});
  return acc.permute({1, 2, 0}).contiguous().view({g.out_channels, g.channels, 3, 3});
#else
  return {};
#endif
}

torch::Tensor conv3x3(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride) {
  // Under CPU autocast (parallel/precision.h) the convolution is LibTorch's: autocast would run
  // our forward's conv2d in bf16/fp16 while the weight gradient here takes float32 only.
  const bool ours = torch::GradMode::is_enabled() && weight.requires_grad() &&
                    !at::autocast::is_autocast_enabled(c10::DeviceType::CPU) &&
                    conv3x3_kernel_available() && x.device().is_cpu() && x.dim() == 4 &&
                    x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
                    is_dense_nchw_or_nhwc(x) && is_dense_nchw_or_nhwc(weight) &&
                    x.size(1) % kLanes == 0 && x.size(1) > 0 && x.size(2) >= 1 && x.size(3) >= 1 &&
                    weight.dim() == 4 && weight.size(1) == x.size(1) && weight.size(2) == 3 &&
                    weight.size(3) == 3;
  if (ours) return Conv3x3Function::apply(x, weight, stride);
  return torch::conv2d(x, weight, /*bias=*/{}, stride, /*padding=*/1);
}

}  // namespace forensight::models
