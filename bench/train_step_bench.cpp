// Training-step benchmark: our LibTorch models against the Python peer (train_step_peer.py) with
// the same step, sizes, thread counts and Adam. Each configuration runs ours, then the peer as a
// subprocess, so both see the same machine load; the step is checked (finite loss, weights
// moved) before it is timed.
#include "bench/train_step_bench.h"

#include "bench/python_peer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <memory>

#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/models/registry.h"
#include "forensight/train/train_options.h"

namespace forensight::bench {
namespace {

constexpr std::array<float, 3> kMean = {0.485f, 0.456f, 0.406f};
constexpr std::array<float, 3> kStd = {0.229f, 0.224f, 0.225f};

struct Measurement {
  double step_s = 0;
  double images_per_s = 0;
  std::vector<double> losses;
};

Measurement time_ours(const TrainStepBenchOptions& o, const std::string& name, int threads) {
  torch::manual_seed(0);
  train::TrainOptions train_options;  // the model as `forensight train` builds it by default
  train_options.model = name;
  train_options.image_size_px = o.image_size_px;
  auto model = models::create_model(train::model_options(train_options));
  model->train();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-4));
  const int64_t b = o.batch_size, s = o.image_size_px;
  torch::Tensor images = torch::randint(0, 256, {b, 3, s, s}, torch::kUInt8);  // (B, 3, S, S)
  torch::Tensor labels = torch::randint(0, 2, {b}, torch::kInt64);             // (B)
  torch::Tensor mean = torch::tensor({kMean[0], kMean[1], kMean[2]}).view({1, 3, 1, 1});
  torch::Tensor std = torch::tensor({kStd[0], kStd[1], kStd[2]}).view({1, 3, 1, 1});

  auto step = [&] {
    torch::Tensor x = (images.to(torch::kFloat).div_(255.0) - mean) / std;  // (B, 3, S, S)
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
    optimizer.zero_grad(/*set_to_none=*/true);
    loss.backward();
    optimizer.step();
    return loss.item<double>();
  };

  at::set_num_threads(threads);
  Measurement m;
  // Correctness before timing: the step's loss is finite and it moves the weights.
  std::vector<torch::Tensor> before;
  for (const auto& parameter : model->parameters()) before.push_back(parameter.detach().clone());
  m.losses.push_back(step());
  FS_CHECK(std::isfinite(m.losses.back()), "{}: training step gave loss {}", name, m.losses.back());
  const auto after = model->parameters();
  bool moved = false;
  for (size_t i = 0; i < before.size() && !moved; ++i)
    moved = !torch::equal(before[i], after[i].detach());
  FS_CHECK(moved, "{}: the optimizer step left every parameter unchanged", name);
  for (int i = 1; i < o.warmup_steps; ++i) m.losses.push_back(step());
  Timer timer;
  for (int i = 0; i < o.timed_steps; ++i) m.losses.push_back(step());
  const double total_s = timer.seconds();
  m.step_s = total_s / o.timed_steps;
  m.images_per_s = static_cast<double>(b) * o.timed_steps / total_s;
  return m;
}

Measurement time_python(const TrainStepBenchOptions& o, const std::string& name, int threads) {
  const nlohmann::json result = run_python_peer(
      o.python, o.peer_script.filename().string(),
      fmt::format("--model {} --threads {} --batch {} --image-size {} --warmup {} --steps {}", name,
                  threads, o.batch_size, o.image_size_px, std::max(1, o.warmup_steps),
                  o.timed_steps));
  Measurement m;
  m.images_per_s = result.at("images_per_s").get<double>();
  m.step_s = m.images_per_s > 0 ? static_cast<double>(o.batch_size) / m.images_per_s : 0.0;
  m.losses = result.at("losses").get<std::vector<double>>();
  return m;
}

}  // namespace

std::vector<TrainStepResult> run_train_step_bench(const TrainStepBenchOptions& o) {
  FS_CHECK(o.batch_size >= 1 && o.image_size_px >= 16 && o.timed_steps >= 1,
           "bench needs batch >= 1, image size >= 16 and >= 1 timed step; got {}, {}, {}",
           o.batch_size, o.image_size_px, o.timed_steps);
  const int threads_before = at::get_num_threads();
  std::vector<TrainStepResult> results;
  for (const auto& name : o.models) {
    for (int threads : o.threads) {
      FS_CHECK(threads >= 1, "thread counts must be >= 1, got {}", threads);
      TrainStepResult r;
      r.model = name;
      r.threads = threads;
      spdlog::info("bench train: {} with {} thread(s), ours", name, threads);
      Measurement ours = time_ours(o, name, threads);
      r.ours_step_s = ours.step_s;
      r.ours_images_per_s = ours.images_per_s;
      r.ours_losses = ours.losses;
      if (o.run_python) {
        spdlog::info("bench train: {} with {} thread(s), python", name, threads);
        Measurement peer = time_python(o, name, threads);
        r.python_step_s = peer.step_s;
        r.python_images_per_s = peer.images_per_s;
        r.ratio = peer.images_per_s > 0 ? ours.images_per_s / peer.images_per_s : 0.0;
      }
      spdlog::info("bench train: {} x{}: ours {:.2f} img/s, python {:.2f} img/s", name, threads,
                   r.ours_images_per_s, r.python_images_per_s);
      results.push_back(std::move(r));
    }
  }
  at::set_num_threads(threads_before);
  return results;
}

std::string format_train_step_table(const std::vector<TrainStepResult>& results) {
  std::string table =
      fmt::format("{:<10} {:>7} {:>12} {:>10} {:>12} {:>10} {:>7}\n", "model", "threads",
                  "ours img/s", "ours s/st", "python img/s", "py s/step", "ratio");
  for (const auto& r : results)
    table += fmt::format("{:<10} {:>7} {:>12.2f} {:>10.3f} {:>12.2f} {:>10.3f} {:>6.2f}x\n",
                         r.model, r.threads, r.ours_images_per_s, r.ours_step_s,
                         r.python_images_per_s, r.python_step_s, r.ratio);
  return table;
}

nlohmann::json train_step_results_json(const TrainStepBenchOptions& o,
                                       const std::vector<TrainStepResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : results)
    rows.push_back({{"model", r.model},
                    {"threads", r.threads},
                    {"ours_step_s", r.ours_step_s},
                    {"ours_images_per_s", r.ours_images_per_s},
                    {"python_step_s", r.python_step_s},
                    {"python_images_per_s", r.python_images_per_s},
                    {"ratio", r.ratio}});
  return {{"bench", "train_step"},
          {"batch_size", o.batch_size},
          {"image_size_px", o.image_size_px},
          {"warmup_steps", o.warmup_steps},
          {"timed_steps", o.timed_steps},
          {"results", rows}};
}

}  // namespace forensight::bench
