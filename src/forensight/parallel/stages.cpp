// Cost-balanced split of a model's units into stages (stages.h).
#include "forensight/parallel/stages.h"

#include <algorithm>
#include <limits>

#include "forensight/core/error.h"
#include "forensight/core/gpu_memory.h"
#include "forensight/core/memory.h"
#include "forensight/core/timer.h"

namespace forensight::parallel {
namespace {

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace

torch::Tensor Stage::forward(torch::Tensor x) const {
  for (const auto& unit : units) x = unit.forward(x);
  return x;
}

double Stage::cost_ms() const {
  double total = 0.0;
  for (double cost : unit_costs_ms) total += cost;
  return total;
}

std::vector<torch::Tensor> Stage::parameters() const {
  std::vector<torch::Tensor> all;
  for (const auto& unit : units)
    for (auto& parameter : models::stage_unit_parameters(unit)) all.push_back(parameter);
  return all;
}

std::vector<double> measure_unit_costs(const std::vector<models::StageUnit>& units,
                                       const torch::Tensor& example_input, int repeats) {
  FS_CHECK(!units.empty(), "a model with no stage units cannot be measured");
  FS_CHECK(example_input.defined() && example_input.is_floating_point(),
           "stage costs are measured on a float example batch (B, 3, H, W), got {}",
           example_input.defined() ? std::string(c10::toString(example_input.scalar_type()))
                                   : std::string("none"));
  FS_CHECK(repeats >= 1, "stage cost measurement needs >= 1 timed pass, got {}", repeats);
  // The measuring passes run BatchNorm in training mode, which moves its running statistics:
  // keep a copy of every buffer and put it back afterwards.
  std::vector<torch::Tensor> buffers, saved;
  for (const auto& unit : units)
    for (const auto& module : unit.modules)
      for (const auto& buffer : module->buffers()) {
        buffers.push_back(buffer);
        saved.push_back(buffer.clone());
      }

  std::vector<double> costs(units.size(), std::numeric_limits<double>::infinity());
  for (int pass = 0; pass <= repeats; ++pass) {  // pass 0 warms up (allocator, oneDNN primitives)
    torch::Tensor x = example_input;
    for (size_t i = 0; i < units.size(); ++i) {
      const torch::Device device = x.device();
      torch::Tensor input = x.detach().requires_grad_(i > 0);
      std::vector<torch::Tensor> wrt = models::stage_unit_parameters(units[i]);
      if (i > 0) wrt.push_back(input);
      synchronize(device);
      Timer timer;
      torch::Tensor output = units[i].forward(input);  // (B, ...)
      if (!wrt.empty())
        torch::autograd::grad({output}, wrt, {torch::ones_like(output)},
                              /*retain_graph=*/false, /*create_graph=*/false,
                              /*allow_unused=*/true);
      synchronize(device);
      if (pass > 0) costs[i] = std::min(costs[i], timer.milliseconds());
      x = output.detach();
    }
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  return costs;
}

std::vector<size_t> balance_stages(const std::vector<double>& unit_costs, size_t num_stages) {
  const size_t n = unit_costs.size();
  FS_CHECK(num_stages >= 1, "a model needs at least one stage, got {}", num_stages);
  FS_CHECK(n >= num_stages, "the model has {} units at block boundaries, too few for {} stages", n,
           num_stages);
  std::vector<double> prefix(n + 1, 0.0);  // prefix[j] = cost of units [0, j)
  for (size_t j = 0; j < n; ++j) prefix[j + 1] = prefix[j] + unit_costs[j];
  const double kInf = std::numeric_limits<double>::infinity();
  // best[k][j]: the smallest possible largest stage cost of units [0, j) cut into k stages;
  // cut[k][j]: where the last of those k stages starts.
  std::vector<std::vector<double>> best(num_stages + 1, std::vector<double>(n + 1, kInf));
  std::vector<std::vector<size_t>> cut(num_stages + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (size_t k = 1; k <= num_stages; ++k)
    for (size_t j = k; j <= n; ++j)
      for (size_t i = k - 1; i < j; ++i) {
        const double cost = std::max(best[k - 1][i], prefix[j] - prefix[i]);
        if (cost < best[k][j]) {
          best[k][j] = cost;
          cut[k][j] = i;
        }
      }
  std::vector<size_t> first_units(num_stages);
  for (size_t k = num_stages, j = n; k >= 1; --k) {
    first_units[k - 1] = cut[k][j];
    j = cut[k][j];
  }
  return first_units;
}

std::vector<Stage> make_stages(std::vector<models::StageUnit> units,
                               const std::vector<double>& unit_costs,
                               const std::vector<size_t>& first_units,
                               const std::vector<torch::Device>& devices) {
  FS_CHECK(
      unit_costs.size() == units.size() && first_units.size() == devices.size() && !devices.empty(),
      "make_stages: {} units with {} costs, {} split points for {} devices", units.size(),
      unit_costs.size(), first_units.size(), devices.size());
  std::vector<Stage> stages(devices.size());
  for (size_t s = 0; s < devices.size(); ++s) {
    const size_t begin = first_units[s];
    const size_t end = s + 1 < devices.size() ? first_units[s + 1] : units.size();
    FS_CHECK(begin < end && end <= units.size(), "stage {} would hold units [{}, {}) of {}", s,
             begin, end, units.size());
    stages[s].device = devices[s];
    for (size_t i = begin; i < end; ++i) {
      models::move_stage_unit(units[i], devices[s]);
      stages[s].units.push_back(std::move(units[i]));
      stages[s].unit_costs_ms.push_back(unit_costs[i]);
    }
  }
  return stages;
}

nlohmann::json describe_stage(const Stage& stage) {
  nlohmann::json units = nlohmann::json::array();
  for (const auto& unit : stage.units) units.push_back(unit.name);
  int64_t parameter_bytes = 0;
  for (const auto& parameter : stage.parameters())
    parameter_bytes += parameter.numel() * static_cast<int64_t>(parameter.element_size());
  nlohmann::json described = {{"device", stage.device.str()},
                              {"units", units},
                              {"unit_costs_ms", stage.unit_costs_ms},
                              {"cost_ms", stage.cost_ms()},
                              {"parameter_bytes", parameter_bytes}};
  if (stage.device.is_cuda()) {
    const GpuMemory memory = gpu_memory(stage.device);
    described["peak_allocated_bytes"] = memory.peak_allocated_bytes;
    described["peak_reserved_bytes"] = memory.peak_reserved_bytes;
  } else {
    described["process_peak_rss_bytes"] = peak_rss_bytes();
  }
  return described;
}

}  // namespace forensight::parallel
