// Splitting a model into pipeline stages: each of its units (models/stage_unit.h) is timed for a
// forward + backward on an example batch, and the ordered units are cut into S contiguous stages
// that minimise the slowest stage's cost, since the slowest stage sets a pipeline's pace (layer
// counts alone mislead: ResNet18's stem costs as much as two of its late blocks).
#pragma once
#include <torch/torch.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "forensight/models/stage_unit.h"

namespace forensight::parallel {

// One stage: a contiguous run of the model's units, on one device.
struct Stage {
  std::vector<models::StageUnit> units;
  torch::Device device = torch::kCPU;
  std::vector<double> unit_costs_ms;  // measured forward + backward of each unit

  // x: the stage's input activation (B, ...) on `device` -> its output (B, ...)
  torch::Tensor forward(torch::Tensor x) const;
  double cost_ms() const;
  std::vector<torch::Tensor> parameters() const;
};

// Milliseconds of a forward + backward of each unit in turn on `example_input` (B, 3, H, W) float,
// the fastest of `repeats` timed passes after one warm-up, on the device the units are on.
// Parameter gradients are computed (autograd::grad) but not accumulated into .grad, and every
// buffer (BatchNorm running statistics) is restored afterwards: measuring leaves the model as it
// was.
std::vector<double> measure_unit_costs(const std::vector<models::StageUnit>& units,
                                       const torch::Tensor& example_input, int repeats = 2);

// The first unit index of each of num_stages contiguous, non-empty stages over units with these
// costs, chosen to minimise the largest stage cost (dynamic programming over the split points).
// Throws Error when there are fewer units than stages.
std::vector<size_t> balance_stages(const std::vector<double>& unit_costs, size_t num_stages);

// Cuts the units at `first_units` (from balance_stages) into one Stage per device and moves each
// stage's units to its device.
std::vector<Stage> make_stages(std::vector<models::StageUnit> units,
                               const std::vector<double>& unit_costs,
                               const std::vector<size_t>& first_units,
                               const std::vector<torch::Device>& devices);

// The stage for describe(): device, unit names, measured costs, parameter bytes and peak memory
// (CUDA: the device's caching-allocator peaks, shared by stages on one device; CPU: the process's
// peak RSS, which the CPU stages share and which no per-thread figure can split).
nlohmann::json describe_stage(const Stage& stage);

}  // namespace forensight::parallel
