// The fused BatchNorm(+shortcut)+ReLU against LibTorch's separate ops: output, every gradient,
// the running statistics and the batch count, with and without the shortcut, in both memory
// layouts; independence of the thread count; the fallbacks (evaluation, mixed layouts, double);
// frozen parameters.
#include "forensight/models/batch_norm_relu.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace forensight::models {
namespace {

struct Result {
  torch::Tensor y, x_grad, weight_grad, bias_grad, residual_grad;
};

torch::nn::BatchNorm2d make_bn(int64_t channels) {
  torch::nn::BatchNorm2d bn(channels);
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  bn->running_mean.uniform_(-1, 1);
  bn->running_var.uniform_(0.5, 2);
  return bn;
}

// One forward and backward through either the fused op or bn(x) (+ residual), relu.
Result run(bool fused, torch::nn::BatchNorm2d& bn, const torch::Tensor& x0,
           const torch::Tensor& residual0, const torch::Tensor& grad) {
  auto x = x0.clone().requires_grad_(true);
  torch::Tensor residual;
  if (residual0.defined()) residual = residual0.clone().requires_grad_(true);
  torch::Tensor y;
  if (fused) {
    y = batch_norm_relu(x, *bn, residual);
  } else {
    y = bn(x);
    if (residual.defined()) y = y + residual;
    y = torch::relu(y);
  }
  y.backward(grad);
  return {y.detach(), x.grad(), bn->weight.grad(), bn->bias.grad(),
          residual.defined() ? residual.grad() : torch::Tensor()};
}

// Relative to the reference's largest entry: the sums run in another order than LibTorch's.
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what,
                  double tolerance = 2e-5) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = std::max(1e-3, want.abs().max().item<double>());
  EXPECT_LE((got - want).abs().max().item<double>() / scale, tolerance) << what;
}

TEST(BatchNormReluTest, MatchesBatchNormThenReluInTraining) {
  torch::manual_seed(0);
  struct Case {
    std::vector<int64_t> shape;
    double mean, spread;  // of x
  };
  // Tiny planes, odd sizes, and a mean 1000x the spread (the variance must not cancel).
  // Channels-last with more positions than one chunk of the sums (512), and a tensor whose planes
  // are 1x1 (both layouts at once).
  for (const Case& c :
       {Case{{2, 5, 4, 3}, 0.0, 1.0}, Case{{3, 8, 7, 7}, 2.0, 3.0}, Case{{4, 3, 1, 1}, -1.0, 0.5},
        Case{{2, 4, 6, 5}, 100.0, 0.1}, Case{{3, 24, 19, 11}, 0.5, 2.0}})
    for (const bool channels_last : {false, true})
      for (const bool with_residual : {false, true}) {
        const auto format =
            channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
        const auto x = (torch::randn(c.shape) * c.spread + c.mean).contiguous(format);
        const auto residual =
            with_residual ? torch::randn(c.shape).contiguous(format) : torch::Tensor();
        const auto grad = torch::randn(c.shape).contiguous(format);
        torch::manual_seed(7);  // the same parameters and running statistics in both modules
        auto bn_ref = make_bn(c.shape[1]);
        torch::manual_seed(7);
        auto bn = make_bn(c.shape[1]);
        // The reference in float64: LibTorch's own float32 BatchNorm is off by up to ~4e-5 of the
        // output's range when the mean is 1000x the spread, more than ours.
        bn_ref->to(torch::kFloat64);
        const auto in_double = [](const torch::Tensor& t) {
          return t.defined() ? t.to(torch::kFloat64) : t;
        };
        const Result want_double =
            run(false, bn_ref, in_double(x), in_double(residual), in_double(grad));
        const auto in_float = [](const torch::Tensor& t) {
          return t.defined() ? t.to(torch::kFloat32) : t;
        };
        const Result want{in_float(want_double.y), in_float(want_double.x_grad),
                          in_float(want_double.weight_grad), in_float(want_double.bias_grad),
                          in_float(want_double.residual_grad)};
        const Result got = run(true, bn, x, residual, grad);
        const std::string what = "shape (" + std::to_string(c.shape[0]) + ", " +
                                 std::to_string(c.shape[1]) + ", " + std::to_string(c.shape[2]) +
                                 ", " + std::to_string(c.shape[3]) + "), mean " +
                                 std::to_string(c.mean) + (with_residual ? ", residual" : "") +
                                 (channels_last ? ", channels-last" : "");
        expect_close(got.y, want.y, what + ": output");
        expect_close(got.x_grad, want.x_grad, what + ": input gradient");
        // sum(g * (x - mean)): a float32 mean of ~100 is within 4e-6 of the exact one, 4e-5 of a
        // spread of 0.1, and that offset times sum(g) is in every float32 implementation's result.
        expect_close(got.weight_grad, want.weight_grad, what + ": weight gradient",
                     c.mean / c.spread > 100 ? 1e-4 : 2e-5);
        expect_close(got.bias_grad, want.bias_grad, what + ": bias gradient");
        if (with_residual) expect_close(got.residual_grad, want.residual_grad, what + ": residual");
        expect_close(bn->running_mean, in_float(bn_ref->running_mean), what + ": running mean");
        expect_close(bn->running_var, in_float(bn_ref->running_var), what + ": running variance");
        EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1) << what;
        EXPECT_EQ(got.y.is_contiguous(format), true) << what << ": output layout";
        EXPECT_EQ(got.x_grad.is_contiguous(format), true) << what << ": input gradient layout";
      }
}

TEST(BatchNormReluTest, DoesNotDependOnTheThreadCount) {
  torch::manual_seed(1);
  // 6 x 15 x 15 = 1350 positions: three chunks of the channels-last sums, the last one partial
  const auto x0 = torch::randn({6, 16, 15, 15}), residual0 = torch::randn({6, 16, 15, 15});
  const auto grad0 = torch::randn({6, 16, 15, 15});
  const int threads = at::get_num_threads();
  for (const auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
    const auto x = x0.contiguous(format), residual = residual0.contiguous(format),
               grad = grad0.contiguous(format);
    std::vector<Result> results;
    for (const int t : {1, 2}) {
      at::set_num_threads(t);
      torch::manual_seed(2);
      auto bn = make_bn(16);
      results.push_back(run(true, bn, x, residual, grad));
    }
    at::set_num_threads(threads);
    EXPECT_TRUE(torch::equal(results[0].y, results[1].y));
    EXPECT_TRUE(torch::equal(results[0].x_grad, results[1].x_grad));
    EXPECT_TRUE(torch::equal(results[0].weight_grad, results[1].weight_grad));
    EXPECT_TRUE(torch::equal(results[0].residual_grad, results[1].residual_grad));
  }
}

// Evaluation mode, a shortcut in another layout than the input, and double inputs take
// LibTorch's ops unchanged.
TEST(BatchNormReluTest, FallsBackToLibTorchWhereItDoesNotApply) {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 4, 5, 5}), grad = torch::randn({2, 4, 5, 5});
  for (const std::string variant : {"eval", "mixed layouts", "double"}) {
    torch::manual_seed(4);
    auto bn = make_bn(4);
    torch::manual_seed(4);
    auto bn_ref = make_bn(4);
    auto input = x;
    torch::Tensor residual;
    if (variant == "eval") {
      bn->eval();
      bn_ref->eval();
    } else if (variant == "mixed layouts") {
      input = x.contiguous(torch::MemoryFormat::ChannelsLast);
      residual = torch::randn({2, 4, 5, 5});  // contiguous
    } else {
      bn->to(torch::kFloat64);
      bn_ref->to(torch::kFloat64);
      input = x.to(torch::kFloat64);
    }
    const auto g = grad.to(input.scalar_type());
    const Result got = run(true, bn, input, residual, g),
                 want = run(false, bn_ref, input, residual, g);
    EXPECT_TRUE(torch::equal(got.y, want.y)) << variant;
    EXPECT_TRUE(torch::equal(got.x_grad, want.x_grad)) << variant;
    EXPECT_TRUE(torch::equal(bn->running_mean, bn_ref->running_mean)) << variant;
    EXPECT_TRUE(torch::equal(bn->running_var, bn_ref->running_var)) << variant;
  }
}

// Frozen BatchNorm parameters (fine-tuning): only the input gets a gradient, as with bn(x); and
// an input that needs none.
TEST(BatchNormReluTest, LeavesFrozenParametersWithoutGradient) {
  torch::manual_seed(5);
  auto bn = make_bn(8);
  bn->weight.requires_grad_(false);
  bn->bias.requires_grad_(false);
  auto x = torch::randn({2, 8, 4, 4}).requires_grad_(true);
  batch_norm_relu(x, *bn).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(bn->weight.grad().defined());
  EXPECT_FALSE(bn->bias.grad().defined());

  // An input without gradient and a shortcut with one: only the shortcut's is computed.
  const auto image = torch::randn({2, 8, 4, 4});
  auto shortcut = torch::randn({2, 8, 4, 4}).requires_grad_(true);
  const auto y = batch_norm_relu(image, *bn, shortcut);
  y.sum().backward();
  EXPECT_FALSE(image.grad().defined());
  EXPECT_TRUE(torch::equal(shortcut.grad(), (y > 0).to(torch::kFloat32)));
}

}  // namespace
}  // namespace forensight::models
