// Our 3x3 convolution's weight gradient against PyTorch's (at::convolution_backward) on odd and
// tiny shapes, both strides and partial register tiles, in both memory layouts; the layer's
// gradients against torch::conv2d's; the fallbacks; and the refusals.
#include "forensight/models/conv3x3.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "../support/error_of.h"

namespace forensight::models {
namespace {

using testing::error_of;

torch::Tensor pytorch_weight_grad(const torch::Tensor& x, const torch::Tensor& grad_out,
                                  int64_t stride) {
  const auto weight = torch::zeros({grad_out.size(1), x.size(1), 3, 3});
  return std::get<1>(at::convolution_backward(grad_out, x, weight, std::nullopt, {stride, stride},
                                              {1, 1}, {1, 1}, false, {0, 0}, 1,
                                              {false, true, false}));
}

// Relative to the gradient's largest entry: the sums run in another order than PyTorch's.
void expect_gradient_close(const torch::Tensor& got, const torch::Tensor& want,
                           const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = std::max(1.0, want.abs().max().item<double>());
  EXPECT_LE((got - want).abs().max().item<double>() / scale, 1e-5) << what;
}

TEST(Conv3x3Test, WeightGradientMatchesPyTorch) {
  if (!conv3x3_kernel_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  torch::manual_seed(0);
  struct Case {
    int64_t batch, channels, out_channels, height, width, stride;
  };
  // Output channel counts cover every tile height (1-6) and the 4+4 ending; sizes cover planes
  // smaller than the window, odd widths (transpose tails) and rows longer than a packed block.
  const Case cases[] = {{2, 16, 1, 1, 1, 1},   {2, 16, 5, 2, 3, 1},    {1, 32, 7, 5, 9, 1},
                        {3, 16, 8, 7, 7, 2},   {2, 16, 22, 9, 6, 2},   {1, 48, 13, 4, 11, 1},
                        {2, 16, 3, 3, 200, 1}, {2, 32, 64, 14, 14, 1}, {2, 16, 10, 8, 8, 3}};
  for (const auto& c : cases) {
    const int64_t out_height = (c.height - 1) / c.stride + 1,
                  out_width = (c.width - 1) / c.stride + 1;
    const auto x = torch::randn({c.batch, c.channels, c.height, c.width});
    const auto grad_out = torch::randn({c.batch, c.out_channels, out_height, out_width});
    expect_gradient_close(
        conv3x3_weight_grad(x, grad_out, c.stride), pytorch_weight_grad(x, grad_out, c.stride),
        "x " + std::to_string(c.batch) + "x" + std::to_string(c.channels) + "x" +
            std::to_string(c.height) + "x" + std::to_string(c.width) + " -> " +
            std::to_string(c.out_channels) + " at stride " + std::to_string(c.stride));
  }
}

// Channels-last input and output gradient, each on its own, and the gradient returned in either
// layout: the same values as PyTorch's.
TEST(Conv3x3Test, WeightGradientReadsAndWritesChannelsLast) {
  if (!conv3x3_kernel_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  torch::manual_seed(4);
  constexpr auto kLast = torch::MemoryFormat::ChannelsLast;
  for (const int64_t stride : {1, 2}) {
    const auto x = torch::randn({3, 32, 9, 7});
    const auto grad_out = torch::randn({3, 11, (9 - 1) / stride + 1, (7 - 1) / stride + 1});
    const auto want = pytorch_weight_grad(x, grad_out, stride);
    for (const bool x_last : {false, true})
      for (const bool grad_last : {false, true})
        for (const bool weight_last : {false, true}) {
          const auto got = conv3x3_weight_grad(
              x_last ? x.contiguous(kLast) : x, grad_last ? grad_out.contiguous(kLast) : grad_out,
              stride, weight_last ? kLast : torch::MemoryFormat::Contiguous);
          const std::string what = "stride " + std::to_string(stride) +
                                   (x_last ? ", x channels-last" : "") +
                                   (grad_last ? ", grad channels-last" : "") +
                                   (weight_last ? ", weight channels-last" : "");
          expect_gradient_close(got, want, what);
          EXPECT_TRUE(weight_last ? got.is_contiguous(kLast) : got.is_contiguous()) << what;
        }
  }
}

TEST(Conv3x3Test, WeightGradientDoesNotDependOnTheThreadCount) {
  if (!conv3x3_kernel_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  torch::manual_seed(1);
  const auto x = torch::randn({4, 32, 12, 12});
  const auto grad_out = torch::randn({4, 30, 12, 12});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = conv3x3_weight_grad(x, grad_out, 1);
  at::set_num_threads(2);
  const auto two = conv3x3_weight_grad(x, grad_out, 1);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
}

// The layer's output and both gradients against torch::conv2d's, for inputs that take our
// kernel (16 channels, either layout) and inputs that fall back (3 channels).
TEST(Conv3x3Test, LayerMatchesConv2dForwardAndBackward) {
  torch::manual_seed(2);
  for (const bool channels_last : {false, true})
    for (const int64_t channels : {3, 16})
      for (const int64_t stride : {1, 2}) {
        const auto format =
            channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
        auto x = torch::randn({2, channels, 10, 9}).contiguous(format).requires_grad_(true);
        auto weight = torch::randn({6, channels, 3, 3}).contiguous(format).requires_grad_(true);
        auto x_ref = x.detach().clone().requires_grad_(true);
        auto weight_ref = weight.detach().clone().requires_grad_(true);
        const auto y = conv3x3(x, weight, stride);
        const auto y_ref = torch::conv2d(x_ref, weight_ref, {}, stride, 1);
        const auto grad = torch::randn(y_ref.sizes());
        y.backward(grad);
        y_ref.backward(grad);
        const std::string what = "channels " + std::to_string(channels) + ", stride " +
                                 std::to_string(stride) + (channels_last ? ", channels-last" : "");
        expect_gradient_close(y, y_ref, what + ": output");
        expect_gradient_close(x.grad(), x_ref.grad(), what + ": input gradient");
        expect_gradient_close(weight.grad(), weight_ref.grad(), what + ": weight gradient");
        EXPECT_TRUE(x.grad().is_contiguous(format)) << what << ": input gradient layout";
        EXPECT_TRUE(weight.grad().is_contiguous(format)) << what << ": weight gradient layout";
      }
}

TEST(Conv3x3Test, LayerLeavesFrozenWeightsAndInputsWithoutGradient) {
  torch::manual_seed(3);
  // Weight frozen: only the input gets a gradient.
  auto x = torch::randn({1, 16, 6, 6}).requires_grad_(true);
  auto frozen = torch::randn({4, 16, 3, 3});
  conv3x3(x, frozen, 1).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  // Input without gradient (the first layer's image): only the weight gets one.
  auto image = torch::randn({1, 16, 6, 6});
  auto weight = torch::randn({4, 16, 3, 3}).requires_grad_(true);
  conv3x3(image, weight, 1).sum().backward();
  EXPECT_FALSE(image.grad().defined());
  expect_gradient_close(weight.grad(), pytorch_weight_grad(image, torch::ones({1, 4, 6, 6}), 1),
                        "weight gradient");
}

TEST(Conv3x3Test, WeightGradientRefusesWhatItCannotRun) {
  if (!conv3x3_kernel_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const auto x = torch::randn({2, 16, 8, 8}), grad_out = torch::randn({2, 4, 8, 8});
  struct Refusal {
    torch::Tensor x, grad_out;
    int64_t stride;
    std::string message;
  };
  const Refusal refusals[] = {{torch::randn({2, 3, 8, 8}), grad_out, 1, "multiples of 16, got 3"},
                              {x, grad_out, 2, "does not match input"},
                              {x.to(torch::kFloat64), grad_out, 1, "takes float32"},
                              {x, grad_out, 0, "stride must be >= 1"}};
  for (const auto& r : refusals) {
    const std::string error = error_of([&] { conv3x3_weight_grad(r.x, r.grad_out, r.stride); });
    EXPECT_NE(error.find(r.message), std::string::npos) << "got: " << error;
  }
}

}  // namespace
}  // namespace forensight::models
