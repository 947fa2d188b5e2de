// A model's forward as an ordered list of units cut at block boundaries (ResNet: stem, the eight
// BasicBlocks, pool + fc; ViT: patch embedding, each encoder block, final norm + head), so that
// parallel/ can place contiguous runs of them on different devices. Running the units one after
// another is the model's forward, op for op: the models' forward() is written as that composition.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace forensight::models {

struct StageUnit {
  std::string name;  // "stem", "layer2.0", "encoder.layers.encoder_layer_3", "head", ...
  // The submodules the unit runs: their parameters and buffers belong to it and move with it.
  std::vector<std::shared_ptr<torch::nn::Module>> modules;
  // Parameters registered on a parent module that only this unit uses (ViT class token and
  // position embeddings).
  std::vector<torch::Tensor> tensors;
  // (B, ...) activation -> (B, ...) activation; borrows the model, which must outlive the unit.
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

// Every parameter of the unit (its modules', then its tensors').
std::vector<torch::Tensor> stage_unit_parameters(const StageUnit& unit);
// Moves the unit's modules (parameters and buffers) and tensors to `device` in place (set_data:
// the model and any optimiser built afterwards see the moved tensors), keeping memory formats.
void move_stage_unit(StageUnit& unit, const torch::Device& device);

}  // namespace forensight::models
