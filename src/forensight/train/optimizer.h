// Optimiser construction by name (sgd with momentum/Nesterov, adam, adamw) and learning-rate
// updates for the schedule, which sets the rate of every parameter group each step.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace forensight::train {

struct OptimizerOptions {
  std::string name = "adam";  // sgd, adam, adamw
  double lr = 1e-3;
  double momentum = 0.9;      // sgd
  bool nesterov = false;      // sgd
  double weight_decay = 0.0;  // L2 for sgd/adam, decoupled for adamw
};

// Throws Error listing the valid names for an unknown optimiser.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const OptimizerOptions& options);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace forensight::train
