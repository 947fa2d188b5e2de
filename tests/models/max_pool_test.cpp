// The stem max-pool kernel against PyTorch's max_pool2d_with_indices: the same values and the same
// indices bit for bit (ties, -inf, NaN, odd and tiny planes), and the same gradient through the
// differentiable layer.
#include "forensight/models/max_pool.h"

#include <gtest/gtest.h>

#include <limits>

namespace forensight::models {
namespace {

void expect_same_as_pytorch(const torch::Tensor& x) {
  auto [values, indices] = max_pool_3x3_stride2_with_indices(x);
  auto [want_values, want_indices] =
      at::max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1}, {1, 1}, /*ceil_mode=*/false);
  ASSERT_EQ(values.sizes(), want_values.sizes()) << x.sizes();
  EXPECT_TRUE(torch::equal(indices, want_indices)) << "indices differ for input " << x.sizes();
  // equal() is false for NaN == NaN; compare the NaN pattern and the rest separately.
  EXPECT_TRUE(torch::equal(values.isnan(), want_values.isnan())) << x.sizes();
  EXPECT_TRUE(torch::equal(values.nan_to_num(0), want_values.nan_to_num(0))) << x.sizes();
}

TEST(StemMaxPoolTest, MatchesPyTorchOnRandomPlanesOfEverySmallSize) {
  torch::manual_seed(0);
  for (int64_t height : {1, 2, 3, 4, 5, 7, 8, 13})
    for (int64_t width : {1, 2, 3, 4, 5, 9, 16, 17, 35})
      expect_same_as_pytorch(torch::randn({2, 3, height, width}));
}

TEST(StemMaxPoolTest, PicksThePyTorchIndexAmongTies) {
  torch::manual_seed(1);
  // After a ReLU most of a plane is 0 and ties are everywhere; few distinct values make ties of
  // positive values too.
  expect_same_as_pytorch(torch::relu(torch::randn({2, 4, 23, 30})));
  expect_same_as_pytorch(torch::randint(0, 3, {2, 4, 24, 31}).to(torch::kFloat32));
  expect_same_as_pytorch(torch::zeros({1, 2, 9, 9}));
}

TEST(StemMaxPoolTest, FollowsPyTorchOnInfinitiesAndNaN) {
  torch::manual_seed(2);
  auto x = torch::randn({1, 3, 12, 19});
  x.index_put_({0, 0}, -std::numeric_limits<float>::infinity());  // a whole plane of -inf
  x.index_put_({0, 1, 3, 4}, std::numeric_limits<float>::quiet_NaN());
  x.index_put_({0, 1, 3, 5}, std::numeric_limits<float>::quiet_NaN());  // two NaNs in a window
  x.index_put_({0, 1, 4, 4}, std::numeric_limits<float>::quiet_NaN());
  x.index_put_({0, 2, 0, 0}, std::numeric_limits<float>::infinity());
  expect_same_as_pytorch(x);
}

TEST(StemMaxPoolTest, TheLayerHasPyTorchsGradient) {
  torch::manual_seed(3);
  auto x = torch::relu(torch::randn({2, 8, 28, 27})).requires_grad_();
  auto x_ref = x.detach().clone().requires_grad_();
  auto grad = torch::randn({2, 8, 14, 14});
  stem_max_pool(x).backward(grad);
  torch::max_pool2d(x_ref, {3, 3}, {2, 2}, {1, 1}).backward(grad);
  EXPECT_TRUE(torch::equal(x.grad(), x_ref.grad()));
}

TEST(StemMaxPoolTest, FallsBackToPyTorchForInputItDoesNotHandle) {
  auto x = torch::randn({1, 4, 10, 10}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::equal(stem_max_pool(x), torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1})));
  auto d = torch::randn({1, 2, 9, 9}, torch::kFloat64);
  EXPECT_TRUE(torch::equal(stem_max_pool(d), torch::max_pool2d(d, {3, 3}, {2, 2}, {1, 1})));
  EXPECT_THROW(max_pool_3x3_stride2_with_indices(d), std::exception);
}

}  // namespace
}  // namespace forensight::models
