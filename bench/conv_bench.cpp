#include "bench/conv_bench.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <vector>

#include "bench/statistics.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/models/conv3x3.h"

namespace forensight::bench {
namespace {

struct Layer {
  int64_t in_channels, out_channels, height, stride;  // square input planes
};

// ResNet18's 3x3 convolutions at 224 px, each shape once (the stride-1 ones occur 3-4 times).
constexpr Layer kLayers[] = {{64, 64, 56, 1},   {64, 128, 56, 2},  {128, 128, 28, 1},
                             {128, 256, 28, 2}, {256, 256, 14, 1}, {256, 512, 14, 2},
                             {512, 512, 7, 1}};

template <typename F>
double seconds_of(const F& call) {
  const Timer timer;
  call();
  return timer.seconds();
}

}  // namespace

nlohmann::json run_conv_bench(const ConvBenchOptions& o) {
  FS_CHECK(models::conv3x3_kernel_available(),
           "bench conv: this CPU has no AVX2/FMA, so our kernel does not run here");
  FS_CHECK(o.rounds >= 1 && o.threads >= 1 && o.batch_size >= 1,
           "bench conv: --rounds, --threads and --batch-size must be >= 1");
  torch::NoGradGuard no_grad;
  at::set_num_threads(o.threads);
  torch::manual_seed(0);
  nlohmann::json rows = nlohmann::json::array();
  fmt::print(
      "3x3 convolution backward-by-weights, batch {}, {} threads, medians of {} rounds\n"
      "{:>16} {:>6} {:>11} {:>7} {:>13} {:>7} {:>7}\n",
      o.batch_size, o.threads, o.rounds, "layer", "stride", "ours ms", "GFLOPS", "pytorch ms",
      "GFLOPS", "ratio");
  for (const Layer& l : kLayers) {
    const int64_t out_side = (l.height - 1) / l.stride + 1;
    const auto x = torch::randn({o.batch_size, l.in_channels, l.height, l.height});
    const auto grad_out = torch::randn({o.batch_size, l.out_channels, out_side, out_side});
    const auto weight = torch::randn({l.out_channels, l.in_channels, 3, 3});
    auto pytorch = [&] {
      return std::get<1>(at::convolution_backward(grad_out, x, weight, std::nullopt,
                                                  {l.stride, l.stride}, {1, 1}, {1, 1}, false,
                                                  {0, 0}, 1, {false, true, false}));
    };
    auto ours = [&] { return models::conv3x3_weight_grad(x, grad_out, l.stride); };
    const auto want = pytorch(), got = ours();  // also the warm-up
    const double scale = std::max(1.0, want.abs().max().item<double>());
    const double difference = (got - want).abs().max().item<double>() / scale;
    FS_CHECK(difference <= 1e-4,
             "bench conv: our gradient differs from PyTorch's by {:.2e} (relative) for {}->{} @{} "
             "stride {}",
             difference, l.in_channels, l.out_channels, l.height, l.stride);
    std::vector<double> ours_s, pytorch_s;
    for (int r = 0; r < o.rounds; ++r) {
      pytorch_s.push_back(seconds_of(pytorch));
      ours_s.push_back(seconds_of(ours));
    }
    const double flops =
        2.0 * o.batch_size * out_side * out_side * l.in_channels * l.out_channels * 9;
    const double ours_med = median(ours_s), pytorch_med = median(pytorch_s);
    const std::string name = fmt::format("{}->{} @{}", l.in_channels, l.out_channels, l.height);
    fmt::print("{:>16} {:>6} {:>11.1f} {:>7.0f} {:>13.1f} {:>7.0f} {:>6.2f}x\n", name, l.stride,
               ours_med * 1e3, flops / ours_med / 1e9, pytorch_med * 1e3, flops / pytorch_med / 1e9,
               pytorch_med / ours_med);
    rows.push_back({{"layer", name},
                    {"stride", l.stride},
                    {"ours_ms", ours_med * 1e3},
                    {"pytorch_ms", pytorch_med * 1e3},
                    {"ours_gflops", flops / ours_med / 1e9},
                    {"pytorch_gflops", flops / pytorch_med / 1e9},
                    {"ratio", pytorch_med / ours_med},
                    {"max_relative_difference", difference}});
  }
  return {{"batch_size", o.batch_size},
          {"threads", o.threads},
          {"rounds", o.rounds},
          {"torch", TORCH_VERSION},
          {"layers", rows}};
}

}  // namespace forensight::bench
