// The declarative table of every TrainOptions field: the flags of `forensight train`, the keys of
// its YAML/JSON config files, and the resolved config.json saved in each run and checkpoint.
#pragma once
#include <nlohmann/json.hpp>

#include <vector>

#include "forensight/core/option_table.h"
#include "forensight/train/train_options.h"

namespace forensight::train {

// Specs that write into `options` (which must outlive the table built from them).
std::vector<OptionSpec> train_option_specs(TrainOptions& options);

// Reads a resolved config (config.json or a checkpoint's) back; unknown keys are refused.
TrainOptions train_options_from_json(const nlohmann::json& config, const std::string& origin);
nlohmann::json train_options_to_json(const TrainOptions& options);
// The resolved options that decide what a run computes, which every rank of a data-parallel job
// must share (parallel/run_fingerprint.h): all but paths, devices, threads, loader workers, stage
// devices, the evaluation batch size, log and checkpoint intervals and the collective timeout.
nlohmann::json train_options_shared_by_ranks(const TrainOptions& options);

}  // namespace forensight::train
