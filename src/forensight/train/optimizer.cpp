#include "forensight/train/optimizer.h"

#include "forensight/core/error.h"

namespace forensight::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerOptions& o) {
  if (o.name == "sgd") {
    FS_CHECK(!o.nesterov || o.momentum > 0, "Nesterov momentum needs momentum > 0, got {}",
             o.momentum);
    return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                               torch::optim::SGDOptions(o.lr)
                                                   .momentum(o.momentum)
                                                   .nesterov(o.nesterov)
                                                   .weight_decay(o.weight_decay));
  }
  if (o.name == "adam")
    return std::make_unique<torch::optim::Adam>(
        std::move(parameters), torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  if (o.name == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        std::move(parameters), torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
  fail("unknown optimizer '{}': valid optimizers are sgd, adam, adamw", o.name);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace forensight::train
