// Training checkpoints: model, optimiser, RNG state, position in the run (epoch, step, batch within
// the epoch), early-stopping state, the fp16 loss scaler's state and the resolved config, in one
// LibTorch archive. Written atomically (temporary file, fsync, rename) so a run killed mid-write
// keeps its previous one.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "forensight/parallel/precision.h"

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
  // The fp16 loss scaler's scale and clean-step count (the defaults in a checkpoint written before
  // the scaler was saved, or by a run without one).
  parallel::LossScalerState loss_scaler;
  // Ranks of the run that wrote it: progress.batch_in_epoch counts global batches of
  // world_size x batch size images, which a resume on another number of ranks converts.
  int64_t world_size = 1;
};

// Written atomically with a CRC-32 trailer; a full disk throws Error naming `path`, which is then
// left as it was. keep_previous_as: the checkpoint `path` replaces is renamed to it (see
// AtomicFile::commit), so a resume that finds `path` damaged or missing has the one before.
void save_checkpoint(const std::string& path, torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const Checkpoint& checkpoint,
                     const std::string& keep_previous_as = "");

// A checkpoint read from disk once: its header at once, then the weights (and the optimiser and
// RNG state) from the same archive. LibTorch's archive has no partial read: opening one unpickles
// every tensor of the file, so a header read followed by a weights read paid for the whole file
// twice (one read of the demo's checkpoints takes 0.04-0.12 s on the dev VM, file cached).
// Throws Error naming the file when it is missing, unreadable or not a Forensight checkpoint.
class CheckpointReader {
 public:
  // Tensors land on `device`; the header's fields are read on the CPU whatever it is.
  CheckpointReader(const std::string& path, const torch::Device& device);

  const Checkpoint& header() const { return header_; }
  const std::string& path() const { return path_; }

  // The model's parameters and buffers take the archive's tensors (no copy): load each reader into
  // one model only.
  void load_model(torch::nn::Module& model);
  // The optimiser's state, and the CPU generator's state as it was when the checkpoint was saved.
  void load_optimizer(torch::optim::Optimizer& optimizer);

 private:
  std::string path_;
  torch::serialize::InputArchive archive_;
  Checkpoint header_;
};

// Reads only the config and progress (to build the right model before loading weights); a caller
// that then loads the weights should keep a CheckpointReader instead.
Checkpoint read_checkpoint_header(const std::string& path);

// Loads weights (and the optimiser state and RNG state when optimizer is given).
Checkpoint load_checkpoint(const std::string& path, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer, const torch::Device& device);

}  // namespace forensight::train
