// Parameter listing and placement of a model's stage units (stage_unit.h).
#include "forensight/models/stage_unit.h"

namespace forensight::models {

std::vector<torch::Tensor> stage_unit_parameters(const StageUnit& unit) {
  std::vector<torch::Tensor> parameters;
  for (const auto& module : unit.modules)
    for (const auto& parameter : module->parameters()) parameters.push_back(parameter);
  for (const auto& tensor : unit.tensors) parameters.push_back(tensor);
  return parameters;
}

void move_stage_unit(StageUnit& unit, const torch::Device& device) {
  for (auto& module : unit.modules) module->to(device);
  torch::NoGradGuard no_grad;
  for (auto& tensor : unit.tensors)
    if (tensor.device() != device) tensor.set_data(tensor.to(device));
}

}  // namespace forensight::models
