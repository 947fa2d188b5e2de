// End-to-end training epoch from JPEG files: Forensight's trainer (parallel loader, DCT-scaled
// decode, resize, ResNet18, Adam) against the seed's Python loop (PIL DataLoader + torchvision
// resnet18) on the same files, threads and workers, in the same run. The two alternate for a few
// rounds, so that a slow spell of the machine lands on both sides of a ratio rather than on one.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace forensight::bench {

struct TrainEpochBenchOptions {
  int images = 128;  // 700x700 q90 JPEGs (from `data synth`) in the epoch
  int threads = 2;   // intra-op threads, ours and Python
  int workers = 2;   // loader workers, ours and Python
  int batch_size = 32;
  int rounds = 5;  // of ours then Python, alternated; the speedup is the median over rounds
  std::string work_dir = "runs/bench-train";
  std::string python = FORENSIGHT_PYTHON;
  bool skip_python = false;
};

nlohmann::json run_train_epoch_bench(const TrainEpochBenchOptions& options);

}  // namespace forensight::bench
