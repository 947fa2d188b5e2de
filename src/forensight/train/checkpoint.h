// Training checkpoints: model, optimiser, RNG state, position in the run (epoch, step, batch within
// the epoch), early-stopping state and the resolved config, in one LibTorch archive. Written
// atomically (temporary file, fsync, rename) so a run killed mid-write keeps its previous one.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace forensight::train {

struct TrainProgress {
  int64_t epoch = 0;           // epoch in progress (0-based)
  int64_t batch_in_epoch = 0;  // batches of `epoch` already trained
  int64_t step = 0;            // optimiser steps so far
  double best_metric = 0.0;    // best validation value of the early-stop metric
  bool has_best = false;
  int64_t epochs_without_improvement = 0;
};

struct Checkpoint {
  TrainProgress progress;
  std::string config_json;  // the run's resolved TrainOptions, as saved in config.json
  // (points, 2) float64 activation ranges from `forensight quantize`; undefined when the
  // checkpoint was never calibrated for int8 inference.
  torch::Tensor int8_ranges;
};

void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const Checkpoint& checkpoint);

// Reads only the config and progress (to build the right model before loading weights).
// Throws Error naming the file when it is missing or not a Forensight checkpoint.
Checkpoint read_checkpoint_header(const std::string& path);

// Loads weights (and the optimiser state and RNG state when optimizer is given).
Checkpoint load_checkpoint(const std::string& path, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer, const torch::Device& device);

}  // namespace forensight::train
