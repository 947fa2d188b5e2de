// The fused op's passes, for x (B, C, H, W), M = B*H*W values per channel:
// - forward statistics: one read of x. Sums of (x - pivot) and its square, the pivot being the
//   channel's first value, so that E[d^2] - E[d]^2 does not cancel when the mean is large against
//   the spread.
// - forward output: one read of x (and the residual), one write of y.
// - backward reduction: g = dy where y > 0, else 0; sums of g and of g * (x - mean); reads dy, y
//   and x.
// - backward output: dx = (g - mean(g) - (x - mean) * sum(g * (x - mean)) * invstd^2 / M)
//   * invstd * weight, and the residual's gradient g; reads dy, y and x, writes dx (and g).
// Two memory layouts, each pass written for both:
// - NCHW (contiguous): a channel is B planes of H*W values. The sums run parallel over channels,
//   in float over chunks of kChunk values of a plane (vectorised) and in double across chunks.
// - NHWC (channels-last): a position's C channels are adjacent. The sums run over fixed chunks of
//   kChunk positions, vectorised across channels, each chunk's float sums kept and added in
//   double in chunk order after the parallel pass.
// Either way the chunks and the order they are added in are fixed, so the results do not depend
// on the thread count.
#include "forensight/models/batch_norm_relu.h"

#include <algorithm>
#include <cmath>

#include "forensight/core/parallel.h"
#include "forensight/models/memory_format.h"

namespace forensight::models {
namespace {

constexpr int64_t kChunk = 512;            // values summed in float before a double accumulation
constexpr int64_t kGrainValues = 1 << 15;  // values per parallel task in the elementwise passes

struct Layout {
  int64_t batch, channels, plane;  // plane = H * W
  bool channels_last;              // NHWC in memory, else NCHW
  int64_t per_channel() const { return batch * plane; }
  int64_t planes() const { return batch * channels; }
  int64_t grain() const { return std::max<int64_t>(1, kGrainValues / plane); }
  // NHWC: positions (n, h, w) and the fixed chunks of kChunk positions the sums run over
  int64_t positions() const { return batch * plane; }
  int64_t position_chunks() const { return (positions() + kChunk - 1) / kChunk; }
  int64_t position_grain() const { return std::max<int64_t>(1, kGrainValues / channels); }
};

Layout layout_of(const torch::Tensor& x) {
  return {x.size(0), x.size(1), x.size(2) * x.size(3), is_channels_last(x)};
}

// NHWC sums: for each fixed chunk of positions [first, last), body(first, last, sums) adds its
// values into `sums` (`width` floats, zeroed); then the chunks' sums are added in double, in chunk
// order, into totals (`width` doubles).
template <typename Body>
void chunked_position_sums(const Layout& l, int64_t width, double* totals, const Body& body) {
  const int64_t chunks = l.position_chunks();
  std::vector<float> partial(chunks * width, 0.f);  // (chunks, width)
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t chunk = begin; chunk < end; ++chunk)
      body(chunk * kChunk, std::min(l.positions(), (chunk + 1) * kChunk),
           partial.data() + chunk * width);
  });
  std::fill(totals, totals + width, 0.0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk)
    for (int64_t i = 0; i < width; ++i) totals[i] += partial[chunk * width + i];
}

// Per channel: mean and biased variance of x.
void channel_statistics(const float* x, const Layout& l, float* mean, double* variance) {
  if (l.channels_last) {
    const int64_t C = l.channels;
    const float* pivot = x;             // the first position's channels
    std::vector<double> totals(2 * C);  // (sum, sum of squares) x C
    chunked_position_sums(l, 2 * C, totals.data(), [&](int64_t first, int64_t last, float* sums) {
      float *s = sums, *s2 = sums + C;
      for (int64_t p = first; p < last; ++p) {
        const float* xp = x + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
          const float d = xp[c] - pivot[c];
          s[c] += d;
          s2[c] += d * d;
        }
      }
    });
    for (int64_t c = 0; c < C; ++c) {
      const double m = totals[c] / static_cast<double>(l.per_channel());
      mean[c] = static_cast<float>(pivot[c] + m);
      variance[c] = std::max(0.0, totals[C + c] / static_cast<double>(l.per_channel()) - m * m);
    }
    return;
  }
  at::parallel_for(0, l.channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float pivot = x[c * l.plane];
      double sum = 0, sum_sq = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const float* p = x + (n * l.channels + c) * l.plane;
        for (int64_t i0 = 0; i0 < l.plane; i0 += kChunk) {
          const int64_t i1 = std::min(l.plane, i0 + kChunk);
          float s = 0, s2 = 0;
#pragma omp simd reduction(+ : s, s2)
          for (int64_t i = i0; i < i1; ++i) {
            const float d = p[i] - pivot;
            s += d;
            s2 += d * d;
          }
          sum += s;
          sum_sq += s2;
        }
      }
      const double m = sum / static_cast<double>(l.per_channel());
      mean[c] = static_cast<float>(pivot + m);
      variance[c] = std::max(0.0, sum_sq / static_cast<double>(l.per_channel()) - m * m);
    }
  });
}

// y = max(0, (x - mean[c]) * scale[c] + bias[c] (+ residual)). The mean is subtracted first, not
// folded into the bias: x * scale would round at the magnitude of the mean, not of the spread.
void normalize_relu(const float* x, const float* residual, const float* mean, const float* scale,
                    const float* bias, const Layout& l, float* y) {
  if (l.channels_last) {
    const int64_t C = l.channels;
    at::parallel_for(0, l.positions(), l.position_grain(), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* xp = x + p * C;
        float* yp = y + p * C;
        if (residual != nullptr) {
          const float* rp = residual + p * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c)
            yp[c] = std::max(0.f, (xp[c] - mean[c]) * scale[c] + bias[c] + rp[c]);
        } else {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c)
            yp[c] = std::max(0.f, (xp[c] - mean[c]) * scale[c] + bias[c]);
        }
      }
    });
    return;
  }
  at::parallel_for(0, l.planes(), l.grain(), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % l.channels;
      const float m = mean[c], a = scale[c], b = bias[c];
      const float* xp = x + plane * l.plane;
      float* yp = y + plane * l.plane;
      if (residual != nullptr) {
        const float* rp = residual + plane * l.plane;
#pragma omp simd
        for (int64_t i = 0; i < l.plane; ++i) yp[i] = std::max(0.f, (xp[i] - m) * a + b + rp[i]);
      } else {
#pragma omp simd
        for (int64_t i = 0; i < l.plane; ++i) yp[i] = std::max(0.f, (xp[i] - m) * a + b);
      }
    }
  });
}

// Per channel: sum of g and of g * (x - mean), g = dy where y > 0.
void gradient_sums(const float* dy, const float* y, const float* x, const float* mean,
                   const Layout& l, double* sum_g, double* sum_gx) {
  if (l.channels_last) {
    const int64_t C = l.channels;
    std::vector<double> totals(2 * C);  // (sum of g, sum of g * (x - mean)) x C
    chunked_position_sums(l, 2 * C, totals.data(), [&](int64_t first, int64_t last, float* sums) {
      float *s = sums, *sx = sums + C;
      for (int64_t p = first; p < last; ++p) {
        const float *dyp = dy + p * C, *yp = y + p * C, *xp = x + p * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) {
          const float d = dyp[c];
          const float g = yp[c] > 0.f ? d : 0.f;
          s[c] += g;
          sx[c] += g * (xp[c] - mean[c]);
        }
      }
    });
    std::copy_n(totals.data(), C, sum_g);
    std::copy_n(totals.data() + C, C, sum_gx);
    return;
  }
  at::parallel_for(0, l.channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float m = mean[c];
      double total_g = 0, total_gx = 0;
      for (int64_t n = 0; n < l.batch; ++n) {
        const int64_t offset = (n * l.channels + c) * l.plane;
        const float *dyp = dy + offset, *yp = y + offset, *xp = x + offset;
        for (int64_t i0 = 0; i0 < l.plane; i0 += kChunk) {
          const int64_t i1 = std::min(l.plane, i0 + kChunk);
          float s = 0, sx = 0;
#pragma omp simd reduction(+ : s, sx)
          for (int64_t i = i0; i < i1; ++i) {
            const float d = dyp[i];
            const float g = yp[i] > 0.f ? d : 0.f;
            s += g;
            sx += g * (xp[i] - m);
          }
          total_g += s;
          total_gx += sx;
        }
      }
      sum_g[c] = total_g;
      sum_gx[c] = total_gx;
    }
  });
}

// dx = (g - g_mean[c] - (x - mean[c]) * k[c]) * a[c] and residual_grad = g, each where requested
// (non-null).
void input_gradient(const float* dy, const float* y, const float* x, const float* mean,
                    const float* g_mean, const float* k, const float* a, const Layout& l, float* dx,
                    float* residual_grad) {
  if (l.channels_last) {
    const int64_t C = l.channels;
    at::parallel_for(0, l.positions(), l.position_grain(), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float *dyp = dy + p * C, *yp = y + p * C, *xp = x + p * C;
        if (dx != nullptr) {
          float* dxp = dx + p * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) {
            const float d = dyp[c];
            const float g = yp[c] > 0.f ? d : 0.f;
            dxp[c] = (g - g_mean[c] - (xp[c] - mean[c]) * k[c]) * a[c];
          }
        }
        if (residual_grad != nullptr) {
          float* rp = residual_grad + p * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) {
            const float d = dyp[c];
            rp[c] = yp[c] > 0.f ? d : 0.f;
          }
        }
      }
    });
    return;
  }
  at::parallel_for(0, l.planes(), l.grain(), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t c = plane % l.channels, offset = plane * l.plane;
      const float mc = mean[c], gm = g_mean[c], kc = k[c], ac = a[c];
      const float *dyp = dy + offset, *yp = y + offset, *xp = x + offset;
      if (dx != nullptr) {
        float* dxp = dx + offset;
#pragma omp simd
        for (int64_t i = 0; i < l.plane; ++i) {
          const float d =
              dyp[i];  // loaded whatever the mask: a conditional load does not vectorise
          const float g = yp[i] > 0.f ? d : 0.f;
          dxp[i] = (g - gm - (xp[i] - mc) * kc) * ac;
        }
      }
      if (residual_grad != nullptr) {
        float* rp = residual_grad + offset;
#pragma omp simd
        for (int64_t i = 0; i < l.plane; ++i) {
          const float d = dyp[i];
          rp[i] = yp[i] > 0.f ? d : 0.f;
        }
      }
    }
  });
}

struct BatchNormReluFunction : torch::autograd::Function<BatchNormReluFunction> {
  // Updates running_mean and running_var in place (no gradient flows through them). No residual
  // is an empty tensor: autograd does not take undefined inputs.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& residual, torch::Tensor running_mean,
                               torch::Tensor running_var, double momentum, double eps) {
    const Layout l = layout_of(x);
    auto mean = torch::empty({l.channels}, x.options());  // (C)
    std::vector<double> variance(l.channels);
    channel_statistics(x.data_ptr<float>(), l, mean.data_ptr<float>(), variance.data());

    auto invstd = torch::empty({l.channels}, x.options());  // (C), kept for backward
    std::vector<float> scale(l.channels);                   // (C): weight * invstd
    const auto w = weight.contiguous(), b = bias.contiguous();
    for (int64_t c = 0; c < l.channels; ++c) {
      const float s = static_cast<float>(1.0 / std::sqrt(variance[c] + eps));
      invstd.data_ptr<float>()[c] = s;
      scale[c] = w.data_ptr<float>()[c] * s;
    }
    auto y = torch::empty_like(x);  // (B, C, H, W)
    const bool has_residual = residual.numel() > 0;
    normalize_relu(x.data_ptr<float>(), has_residual ? residual.data_ptr<float>() : nullptr,
                   mean.data_ptr<float>(), scale.data(), b.data_ptr<float>(), l,
                   y.data_ptr<float>());
    {
      // As LibTorch's batch_norm: the running variance takes the unbiased estimate.
      torch::NoGradGuard no_grad;
      const double unbiased = static_cast<double>(l.per_channel()) / (l.per_channel() - 1);
      auto var = torch::from_blob(variance.data(), {l.channels}, torch::kFloat64)
                     .to(running_var.scalar_type());
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_(var, momentum * unbiased);
    }
    ctx->save_for_backward({x, y, weight, mean, invstd});
    ctx->saved_data["has_residual"] = has_residual;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &y = saved[1], &weight = saved[2];
    const torch::Tensor &mean = saved[3], &invstd = saved[4];
    const torch::Tensor dy = grads[0].contiguous(x.suggest_memory_format());  // (B, C, H, W)
    const Layout l = layout_of(x);
    std::vector<double> sum_g(l.channels), sum_gx(l.channels);
    gradient_sums(dy.data_ptr<float>(), y.data_ptr<float>(), x.data_ptr<float>(),
                  mean.data_ptr<float>(), l, sum_g.data(), sum_gx.data());

    torch::Tensor grad_x, grad_weight, grad_bias, grad_residual;
    const auto w = weight.contiguous();
    if (ctx->needs_input_grad(0) || ctx->needs_input_grad(3)) {
      std::vector<float> g_mean(l.channels), k(l.channels), a(l.channels);
      const double count = static_cast<double>(l.per_channel());
      for (int64_t c = 0; c < l.channels; ++c) {
        const double s = invstd.data_ptr<float>()[c];
        g_mean[c] = static_cast<float>(sum_g[c] / count);
        k[c] = static_cast<float>(sum_gx[c] * s * s / count);
        a[c] = static_cast<float>(s * w.data_ptr<float>()[c]);
      }
      if (ctx->needs_input_grad(0)) grad_x = torch::empty_like(x);
      if (ctx->saved_data["has_residual"].toBool() && ctx->needs_input_grad(3))
        grad_residual = torch::empty_like(x);
      input_gradient(dy.data_ptr<float>(), y.data_ptr<float>(), x.data_ptr<float>(),
                     mean.data_ptr<float>(), g_mean.data(), k.data(), a.data(), l,
                     grad_x.defined() ? grad_x.data_ptr<float>() : nullptr,
                     grad_residual.defined() ? grad_residual.data_ptr<float>() : nullptr);
    }
    if (ctx->needs_input_grad(1)) {
      grad_weight = torch::empty_like(weight);
      for (int64_t c = 0; c < l.channels; ++c)
        grad_weight.data_ptr<float>()[c] =
            static_cast<float>(sum_gx[c] * invstd.data_ptr<float>()[c]);
    }
    if (ctx->needs_input_grad(2)) {
      grad_bias = torch::empty_like(weight);
      for (int64_t c = 0; c < l.channels; ++c)
        grad_bias.data_ptr<float>()[c] = static_cast<float>(sum_g[c]);
    }
    return {grad_x,          grad_weight,     grad_bias,       grad_residual,
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool is_cpu_float_dense(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.dim() == 4 &&
         is_dense_nchw_or_nhwc(t);
}

}  // namespace

torch::Tensor batch_norm_relu(const torch::Tensor& x, torch::nn::BatchNorm2dImpl& bn,
                              const torch::Tensor& residual) {
  const auto& o = bn.options;
  const bool fused =
      bn.is_training() && o.affine() && o.track_running_stats() && o.momentum().has_value() &&
      is_cpu_float_dense(x) && x.size(1) == o.num_features() && x.numel() > x.size(1) &&
      bn.weight.scalar_type() == torch::kFloat32 && bn.bias.scalar_type() == torch::kFloat32 &&
      bn.running_mean.defined() && bn.running_var.defined() &&
      (!residual.defined() || (is_cpu_float_dense(residual) && residual.sizes() == x.sizes() &&
                               is_channels_last(residual) == is_channels_last(x)));
  if (!fused) {
    torch::Tensor out = bn.forward(x);
    if (residual.defined()) out += residual;
    return out.relu_();
  }
  if (bn.num_batches_tracked.defined()) {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
  }
  return BatchNormReluFunction::apply(
      x, bn.weight, bn.bias, residual.defined() ? residual : torch::empty({0}, x.options()),
      bn.running_mean, bn.running_var, *o.momentum(), o.eps());
}

}  // namespace forensight::models
