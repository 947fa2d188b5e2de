// Single-image detection latency: one 700x700 JPEG -> verdict (decode, resize, normalise, forward),
// p50 and p95, ours against the seed's Python predict path (PIL + torchvision transforms + model)
// at the same threads, in the same run.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace forensight::bench {

struct PredictBenchOptions {
  std::vector<std::string> models = {"resnet18"};  // resnet18 and/or vit-tiny
  int threads = 2;                                 // intra-op threads, ours and Python
  int warmup_runs = 3;
  int runs = 30;      // timed predictions per round
  int rounds = 3;     // of Python then ours, alternated; figures are medians over rounds
  std::string image;  // a JPEG; "" = make a 700x700 q90 one
  std::string work_dir = "runs/bench-predict";
  std::string python = FORENSIGHT_PYTHON;
  bool skip_python = false;
};

// Prints a table and returns every figure as JSON.
nlohmann::json run_predict_bench(const PredictBenchOptions& options);

}  // namespace forensight::bench
