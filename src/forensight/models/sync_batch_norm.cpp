#include "forensight/models/sync_batch_norm.h"

#include "forensight/core/error.h"

namespace forensight::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// (C) -> (1, C, 1, 1), to broadcast over (B, C, H, W).
torch::Tensor per_channel(const torch::Tensor& t) {
  return t.view({1, -1, 1, 1});
}

class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  // x (B, C, H, W) float; weight, bias (C); mean, invstd (C) float64 global statistics.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& mean, const torch::Tensor& invstd,
                               int64_t global_count, SumAcrossProcesses* ranks) {
    const torch::Tensor mean_f = per_channel(mean.to(torch::kFloat32));
    const torch::Tensor invstd_f = per_channel(invstd.to(torch::kFloat32));
    ctx->save_for_backward({x, weight, mean_f, invstd_f});
    ctx->saved_data["global_count"] = global_count;
    // The reducer outlives the step (the Distribution holds it); autograd keeps only its address.
    ctx->saved_data["ranks"] = reinterpret_cast<int64_t>(ranks);
    return (x - mean_f) * invstd_f * per_channel(weight) + per_channel(bias);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];
    const torch::Tensor& invstd = saved[3];
    const double count = static_cast<double>(ctx->saved_data["global_count"].toInt());
    auto* ranks = reinterpret_cast<SumAcrossProcesses*>(ctx->saved_data["ranks"].toInt());
    const torch::Tensor dy = grad_outputs[0].to(torch::kFloat32);  // (B, C, H, W)
    const torch::Tensor xhat = (x - mean) * invstd;                // (B, C, H, W)
    const std::vector<int64_t> dims = {0, 2, 3};
    // This rank's sums, then the global ones: y's gradient reaches x through the shared mean and
    // variance from every rank's samples.
    const torch::Tensor sum_dy = dy.sum(dims, false, torch::kFloat64);                // (C)
    const torch::Tensor sum_dy_xhat = (dy * xhat).sum(dims, false, torch::kFloat64);  // (C)
    torch::Tensor global = torch::cat({sum_dy, sum_dy_xhat});                         // (2C)
    ranks->allreduce_sum(global);
    const int64_t channels = sum_dy.size(0);
    const torch::Tensor mean_dy = per_channel(global.narrow(0, 0, channels) / count).to(x.dtype());
    const torch::Tensor mean_dy_xhat =
        per_channel(global.narrow(0, channels, channels) / count).to(x.dtype());
    const torch::Tensor dx = (dy - mean_dy - xhat * mean_dy_xhat) * invstd * per_channel(weight);
    return {dx,
            sum_dy_xhat.to(weight.dtype()),
            sum_dy.to(weight.dtype()),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& input, torch::nn::BatchNorm2dImpl& bn,
                              SumAcrossProcesses& ranks) {
  FS_CHECK(input.dim() == 4, "sync_batch_norm expects (B, C, H, W), got {} dimensions",
           input.dim());
  FS_CHECK(
      bn.options.affine() && bn.options.track_running_stats() && bn.options.momentum().has_value(),
      "sync_batch_norm needs a BatchNorm with affine parameters, running statistics and a "
      "fixed momentum");
  const torch::Tensor x = input.to(torch::kFloat32);  // under autocast the conv gave bf16/fp16
  const std::vector<int64_t> dims = {0, 2, 3};
  // Per-channel sum and sum of squares in float64 (no cancellation worth speaking of at these
  // sizes), and the element count, summed over the ranks in one message.
  const int64_t channels = x.size(1);
  torch::Tensor stats;
  {
    torch::NoGradGuard no_grad;
    stats = torch::cat(
        {x.sum(dims, false, torch::kFloat64), x.square().sum(dims, false, torch::kFloat64),
         torch::full({1}, static_cast<double>(x.numel() / channels),
                     torch::TensorOptions().dtype(torch::kFloat64).device(x.device()))});
    ranks.allreduce_sum(stats);
  }
  const double count = stats[2 * channels].item<double>();
  FS_CHECK(count > 1, "sync_batch_norm needs more than one value per channel over all ranks");
  const torch::Tensor mean = stats.narrow(0, 0, channels) / count;  // (C)
  const torch::Tensor var =
      (stats.narrow(0, channels, channels) / count - mean.square()).clamp_min(0);
  const torch::Tensor invstd = (var + bn.options.eps()).rsqrt();  // (C)
  {
    torch::NoGradGuard no_grad;
    const double momentum = *bn.options.momentum();
    bn.running_mean.mul_(1 - momentum).add_(mean.to(bn.running_mean.dtype()), momentum);
    bn.running_var.mul_(1 - momentum)
        .add_((var * (count / (count - 1))).to(bn.running_var.dtype()), momentum);
    bn.num_batches_tracked.add_(1);
  }
  return SyncBatchNormFunction::apply(x, bn.weight, bn.bias, mean, invstd,
                                      static_cast<int64_t>(count), &ranks);
}

}  // namespace forensight::models
