#include "forensight/models/max_pool.h"

#include <algorithm>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/parallel.h"
#include "forensight/models/shape.h"

namespace forensight::models {
namespace {

// An AVX2 clone chosen at load time by an ifunc resolver. Not under ThreadSanitizer: it instruments
// the resolver, which the dynamic loader runs before TSan's runtime exists, and every executable
// of the `make tsan` build died before main. That build runs the default clone.
#if defined(__SANITIZE_THREAD__)
#define FORENSIGHT_AVX2_CLONE
#else
#define FORENSIGHT_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#endif

// PyTorch's update rule: a strictly greater value, or a NaN, replaces the current maximum.
inline bool replaces(float value, float current) {
  return value > current || value != value;
}

// The window is separable: the first maximum in row-major order is the first maximum of the first
// row that holds the window's maximum. So each input row is reduced over its 3 columns first
// (horizontal: the best value and its column), then the output row over its 3 rows (vertical).
// Both loops are branch-free over j so that the compiler vectorises them (-O3, AVX2 clone).
FORENSIGHT_AVX2_CLONE void pool_plane(const float* in, int64_t height, int64_t width, float* out,
                                      int64_t* indices, int64_t out_height, int64_t out_width,
                                      float* row_max, int32_t* row_col) {
  // row_max, row_col: (height, out_width) scratch.
  // Output column j reads columns 2j-1, 2j, 2j+1; 2j always exists, 2j-1 not for j = 0, 2j+1 not
  // when it reaches the width. The middle range has all three.
  const int64_t last_full = (width - 2) / 2;  // the last j with 2j+1 < width
  for (int64_t r = 0; r < height; ++r) {
    const float* row = in + r * width;
    float* best = row_max + r * out_width;
    int32_t* col = row_col + r * out_width;
    auto edge = [&](int64_t j) {
      float m = row[2 * j];
      int32_t c = static_cast<int32_t>(2 * j);
      if (j >= 1) {  // column 2j-1 exists and comes first in the window
        m = row[2 * j - 1];
        c = static_cast<int32_t>(2 * j - 1);
        if (replaces(row[2 * j], m)) m = row[2 * j], c = static_cast<int32_t>(2 * j);
      }
      if (2 * j + 1 < width && replaces(row[2 * j + 1], m))
        m = row[2 * j + 1], c = static_cast<int32_t>(2 * j + 1);
      best[j] = m;
      col[j] = c;
    };
    edge(0);
    for (int64_t j = std::max<int64_t>(1, last_full + 1); j < out_width; ++j) edge(j);
    for (int64_t j = 1; j <= last_full; ++j) {
      const float a = row[2 * j - 1], b = row[2 * j], e = row[2 * j + 1];
      float m = a;
      int32_t c = static_cast<int32_t>(2 * j - 1);
      const bool take_b = replaces(b, m);
      m = take_b ? b : m;
      c = take_b ? c + 1 : c;
      const bool take_e = replaces(e, m);
      m = take_e ? e : m;
      c = take_e ? static_cast<int32_t>(2 * j + 1) : c;
      best[j] = m;
      col[j] = c;
    }
  }
  for (int64_t i = 0; i < out_height; ++i) {
    // Output row i reads rows 2i-1, 2i, 2i+1, the first and last where they exist.
    const int64_t first = i > 0 ? 2 * i - 1 : 2 * i;
    const int64_t last = std::min<int64_t>(2 * i + 1, height - 1);
    float* o = out + i * out_width;
    int64_t* idx = indices + i * out_width;
    for (int64_t j = 0; j < out_width; ++j) {
      o[j] = row_max[first * out_width + j];
      idx[j] = first * width + row_col[first * out_width + j];
    }
    for (int64_t r = first + 1; r <= last; ++r) {
      const float* best = row_max + r * out_width;
      const int32_t* col = row_col + r * out_width;
      for (int64_t j = 0; j < out_width; ++j) {
        const bool take = replaces(best[j], o[j]);
        o[j] = take ? best[j] : o[j];
        idx[j] = take ? r * width + col[j] : idx[j];
      }
    }
  }
}

// Autograd wrapper: the forward is ours, the backward PyTorch's, fed our indices.
struct StemMaxPool : torch::autograd::Function<StemMaxPool> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    auto [values, indices] = max_pool_3x3_stride2_with_indices(x);
    ctx->save_for_backward({x, indices});
    return values;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {at::max_pool2d_with_indices_backward(grads[0].contiguous(), saved[0], {3, 3}, {2, 2},
                                                 {1, 1}, {1, 1}, /*ceil_mode=*/false, saved[1])};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> max_pool_3x3_stride2_with_indices(const torch::Tensor& x) {
  FS_CHECK(x.dim() == 4 && x.scalar_type() == torch::kFloat32 && x.device().is_cpu() &&
               x.is_contiguous(),
           "max_pool_3x3_stride2 takes a contiguous float32 (B, C, H, W) CPU tensor, got {} {} on "
           "{}",
           format_shape(x.sizes()), c10::toString(x.scalar_type()), x.device().str());
  const int64_t planes = x.size(0) * x.size(1), height = x.size(2), width = x.size(3);
  FS_CHECK(height >= 1 && width >= 1, "max_pool_3x3_stride2: empty plane {}",
           format_shape(x.sizes()));
  const int64_t out_height = (height - 1) / 2 + 1, out_width = (width - 1) / 2 + 1;
  auto values = torch::empty({x.size(0), x.size(1), out_height, out_width}, x.options());
  auto indices = torch::empty(values.sizes(), x.options().dtype(torch::kInt64));
  const float* in = x.data_ptr<float>();
  float* out = values.data_ptr<float>();
  int64_t* idx = indices.data_ptr<int64_t>();
  at::parallel_for(0, planes, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
    std::vector<float> row_max(height * out_width);
    std::vector<int32_t> row_col(height * out_width);
    for (int64_t p = begin; p < end; ++p)
      pool_plane(in + p * height * width, height, width, out + p * out_height * out_width,
                 idx + p * out_height * out_width, out_height, out_width, row_max.data(),
                 row_col.data());
  });
  return {values, indices};
}

torch::Tensor stem_max_pool(const torch::Tensor& x) {
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 &&
      x.is_contiguous() && x.size(2) >= 1 && x.size(3) >= 1)
    return StemMaxPool::apply(x);
  return torch::max_pool2d(x, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
}

}  // namespace forensight::models
