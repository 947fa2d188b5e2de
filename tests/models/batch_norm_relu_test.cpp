// The fused BatchNorm(+shortcut)+ReLU against LibTorch's separate ops: output, every gradient,
// the running statistics and the batch count, with and without the shortcut; independence of the
// thread count; the fallbacks (evaluation, channels-last, double); frozen parameters.
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
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = std::max(1e-3, want.abs().max().item<double>());
  EXPECT_LE((got - want).abs().max().item<double>() / scale, 2e-5) << what;
}

TEST(BatchNormReluTest, MatchesBatchNormThenReluInTraining) {
  torch::manual_seed(0);
  struct Case {
    std::vector<int64_t> shape;
    double mean, spread;  // of x
  };
  // Tiny planes, odd sizes, and a mean 1000x the spread (the variance must not cancel).
  for (const Case& c : {Case{{2, 5, 4, 3}, 0.0, 1.0}, Case{{3, 8, 7, 7}, 2.0, 3.0},
                        Case{{4, 3, 1, 1}, -1.0, 0.5}, Case{{2, 4, 6, 5}, 100.0, 0.1}})
    for (const bool with_residual : {false, true}) {
      const auto x = torch::randn(c.shape) * c.spread + c.mean;
      const auto residual = with_residual ? torch::randn(c.shape) : torch::Tensor();
      const auto grad = torch::randn(c.shape);
      torch::manual_seed(7);  // the same parameters and running statistics in both modules
      auto bn_ref = make_bn(c.shape[1]);
      torch::manual_seed(7);
      auto bn = make_bn(c.shape[1]);
      const Result want = run(false, bn_ref, x, residual, grad);
      const Result got = run(true, bn, x, residual, grad);
      const std::string what = "shape (" + std::to_string(c.shape[0]) + ", " +
                               std::to_string(c.shape[1]) + ", " + std::to_string(c.shape[2]) +
                               ", " + std::to_string(c.shape[3]) + "), mean " +
                               std::to_string(c.mean) + (with_residual ? ", residual" : "");
      expect_close(got.y, want.y, what + ": output");
      expect_close(got.x_grad, want.x_grad, what + ": input gradient");
      expect_close(got.weight_grad, want.weight_grad, what + ": weight gradient");
      expect_close(got.bias_grad, want.bias_grad, what + ": bias gradient");
      if (with_residual) expect_close(got.residual_grad, want.residual_grad, what + ": residual");
      expect_close(bn->running_mean, bn_ref->running_mean, what + ": running mean");
      expect_close(bn->running_var, bn_ref->running_var, what + ": running variance");
      EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1) << what;
    }
}

TEST(BatchNormReluTest, DoesNotDependOnTheThreadCount) {
  torch::manual_seed(1);
  const auto x = torch::randn({6, 16, 9, 9}), residual = torch::randn({6, 16, 9, 9});
  const auto grad = torch::randn({6, 16, 9, 9});
  const int threads = at::get_num_threads();
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

// Evaluation mode, channels-last and double inputs take LibTorch's ops unchanged.
TEST(BatchNormReluTest, FallsBackToLibTorchWhereItDoesNotApply) {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 4, 5, 5}), grad = torch::randn({2, 4, 5, 5});
  for (const std::string variant : {"eval", "channels-last", "double"}) {
    torch::manual_seed(4);
    auto bn = make_bn(4);
    torch::manual_seed(4);
    auto bn_ref = make_bn(4);
    auto input = x;
    if (variant == "eval") {
      bn->eval();
      bn_ref->eval();
    } else if (variant == "channels-last") {
      input = x.contiguous(torch::MemoryFormat::ChannelsLast);
    } else {
      bn->to(torch::kFloat64);
      bn_ref->to(torch::kFloat64);
      input = x.to(torch::kFloat64);
    }
    const auto g = grad.to(input.scalar_type());
    const Result got = run(true, bn, input, {}, g), want = run(false, bn_ref, input, {}, g);
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
