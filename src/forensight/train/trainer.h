// The training loop: load, forward, backward, sync, step, record — each phase timed — over
// epochs, with validation, checkpoints (last, best, every N), early stopping, resume, and a final
// test-set report. Precision and distribution policies plug in at fixed points of the step.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "forensight/train/train_options.h"

namespace forensight::train {

struct TrainResult {
  int64_t steps = 0;  // optimiser steps in total (resumed runs included)
  int64_t epochs_completed = 0;
  bool stopped_early = false;
  double seconds = 0.0;          // wall time of this invocation
  nlohmann::json final_metrics;  // test-set metrics of the best checkpoint (empty without test)
  std::string run_dir;
};

// options: the resolved run options. resolved_config: the same as JSON, saved in the run
// directory and in every checkpoint. resume: continue the run in options.out_dir from its `last`
// checkpoint (the config saved there must describe the same data and model).
TrainResult train(const TrainOptions& options, const nlohmann::json& resolved_config, bool resume);

}  // namespace forensight::train
