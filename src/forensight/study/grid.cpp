#include "forensight/study/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "forensight/core/cpu_info.h"

namespace forensight::study {
namespace {

// Why the machine cannot run these settings, or nothing.
std::optional<std::string> cannot_run(const CellSettings& s, const StudyConfig& config,
                                      const Machine& machine) {
  const bool cuda = config.device == "cuda";
  if (!cuda && s.threads * s.ranks > machine.cores)
    return fmt::format("{} ranks x {} threads is more than the {} cores", s.ranks, s.threads,
                       machine.cores);
  if (cuda && s.threads > machine.cores)
    return fmt::format("more threads than the {} cores", machine.cores);
  if (!cuda && s.amp == "fp16")
    return std::string("fp16 autocast needs a GPU (on a CPU it runs some 60x slower than fp32)");
  // Emulated bf16 measures the emulation, and its two cells made the quick study three times as
  // long.
  if (!cuda && s.amp == "bf16" && !machine.cpu_bf16)
    return fmt::format(
        "bf16 autocast needs a CPU with bf16 instructions or a GPU: {} (`forensight bench "
        "parallel --parts amp` measures it)",
        emulated_bf16_cost());
  if (cuda && s.ranks > std::max(machine.gpus, 1))
    return fmt::format("{} ranks need {} GPUs; this machine has {}", s.ranks, s.ranks,
                       machine.gpus);
  return std::nullopt;
}

bool python_runs(const StudyConfig& config, const std::string& axis, const CellSettings& s) {
  // The seed's code split the model over two devices naively; it had no pipeline schedule.
  if (s.placement == "pipeline") return false;
  for (const auto& p : config.python) {
    if (p == "all") return true;
    if (p == "baseline" && axis == "baseline") return true;
    if (p == axis) return true;
  }
  return false;
}

bool axis_runs_for(const StudyConfig& config, const std::string& axis, const std::string& model) {
  const auto it = config.axis_models.find(axis);
  return it == config.axis_models.end() ||
         std::find(it->second.begin(), it->second.end(), model) != it->second.end();
}

}  // namespace

std::string axis_label(const std::string& axis, const CellSettings& s) {
  if (axis == "threads") return fmt::format("threads={}", s.threads);
  if (axis == "workers") return fmt::format("workers={}", s.workers);
  if (axis == "ranks") return fmt::format("ranks={}", s.ranks);
  if (axis == "amp") return "amp=" + s.amp;
  if (axis == "placement") return "placement=" + s.placement;
  if (axis == "product")
    return fmt::format("t{}-w{}-r{}-{}-{}", s.threads, s.workers, s.ranks, s.amp, s.placement);
  return axis;  // baseline
}

std::string cell_folder(const std::string& id) {
  std::string folder = id;
  std::replace(folder.begin(), folder.end(), '/', '_');
  std::replace(folder.begin(), folder.end(), '=', '-');
  return folder;
}

Grid expand_grid(const StudyConfig& config, const Machine& machine) {
  Grid grid;
  for (size_t m = 0; m < config.models.size(); ++m) {
    const std::string& key = config.models[m].key;
    // The settings to run for this model, each with the axis it belongs to.
    std::vector<std::pair<std::string, CellSettings>> wanted = {{"baseline", config.baseline}};
    if (config.mode == "product") {
      std::vector<CellSettings> combos = {config.baseline};
      for (const auto& axis : kAxisNames) {
        const auto it = config.axes.find(axis);
        if (it == config.axes.end() || !axis_runs_for(config, axis, key)) continue;
        std::vector<CellSettings> next;
        for (const auto& combo : combos)
          for (const auto& value : it->second)
            next.push_back(with_axis_value(combo, axis, value, "axes." + axis));
        combos = std::move(next);
      }
      for (const auto& combo : combos)
        if (!(combo == config.baseline)) wanted.emplace_back("product", combo);
    } else {
      for (const auto& axis : kAxisNames) {
        const auto it = config.axes.find(axis);
        if (it == config.axes.end() || !axis_runs_for(config, axis, key)) continue;
        for (const auto& value : it->second) {
          const CellSettings s = with_axis_value(config.baseline, axis, value, "axes." + axis);
          if (!(s == config.baseline)) wanted.emplace_back(axis, s);
        }
      }
    }
    for (const auto& [axis, settings] : wanted) {
      const std::string label = axis_label(axis, settings);
      if (const auto why = cannot_run(settings, config, machine)) {
        grid.left_out.push_back(fmt::format("{} {}: {}", key, label, *why));
        continue;
      }
      grid.cells.push_back(
          {fmt::format("{}/{}/forensight", key, label), m, axis, "forensight", settings});
      if (python_runs(config, axis, settings))
        grid.cells.push_back(
            {fmt::format("{}/{}/python", key, label), m, axis, "python", settings});
    }
  }
  return grid;
}

}  // namespace forensight::study
