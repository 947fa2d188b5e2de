// Training-step throughput of Forensight's models against Python PyTorch in the same run: uint8
// batch -> normalised float -> forward -> cross entropy -> backward -> Adam, images per second.
// A function, not a main: `forensight bench train` calls it and prints the table.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>
#include "forensight/core/source_dir.h"

namespace forensight::bench {

struct TrainStepBenchOptions {
  std::vector<std::string> models = {"resnet18", "vit-tiny"};  // registry names
  std::vector<int> threads = {1, 2};                           // intra-op thread counts to run
  int64_t batch_size = 32;                                     // images per step
  int64_t image_size_px = 224;                                 // input side
  int warmup_steps = 1;                                        // untimed steps first
  int timed_steps = 3;                                         // timed steps (mean reported)
  bool run_python = true;                                      // also time the Python peer
  std::string python = FORENSIGHT_PYTHON;                      // interpreter with torch
  std::filesystem::path peer_script =
      core::source_dir() + "/bench/python/train_step_peer.py";  // the Python peer
};

struct TrainStepResult {
  std::string model;
  int threads = 0;
  double ours_step_s = 0;  // mean seconds per timed step
  double ours_images_per_s = 0;
  double python_step_s = 0;  // 0 when the peer did not run
  double python_images_per_s = 0;
  double ratio = 0;                 // ours / python images per second; 0 without the peer
  std::vector<double> ours_losses;  // every step's loss, warm-up included
};

// Runs every (model, threads) pair, ours then the peer back to back so both see the same load.
// Throws Error if a step gives a non-finite loss or leaves the weights unchanged (checked before
// timing), or if the peer fails.
std::vector<TrainStepResult> run_train_step_bench(const TrainStepBenchOptions& options);

// A fixed-width table: model, threads, ours and python images/s and s/step, ratio.
std::string format_train_step_table(const std::vector<TrainStepResult>& results);
nlohmann::json train_step_results_json(const TrainStepBenchOptions& options,
                                       const std::vector<TrainStepResult>& results);

}  // namespace forensight::bench
