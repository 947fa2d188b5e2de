#include "bench/predict_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "bench/python_peer.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/data/synth.h"
#include "forensight/eval/predictor.h"
#include "forensight/models/registry.h"

namespace forensight::bench {
namespace {

constexpr int kSidePx = 700;
constexpr int kQuality = 90;

// The first real image of a small `data synth` set: a crop of a photograph, 700x700, q90.
std::string ensure_image(const PredictBenchOptions& o) {
  if (!o.image.empty()) return o.image;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(o.work_dir) / "synth700";
  if (!fs::exists(dir / "train.csv")) {
    data::SynthOptions synth;
    synth.out_dir = dir.string();
    synth.count = 2;
    synth.size_px = kSidePx;
    synth.quality = kQuality;
    data::synthesize_dataset(synth);
  }
  for (const auto& entry : fs::directory_iterator(dir / "0_real"))
    if (entry.path().extension() == ".jpg") return entry.path().string();
  fail("no JPEG in '{}': delete the folder and run again", (dir / "0_real").string());
}

eval::Detector in_memory_detector(const std::string& model) {
  eval::Detector d;
  d.checkpoint_path = "(random init)";
  d.config.model = model;
  d.config.image_size_px = 224;
  d.config.size_mode = "resize";
  d.config.normalization = model == "resnet18" ? "imagenet" : "half";
  models::ModelOptions m;
  m.name = model;
  m.image_size_px = 224;
  torch::manual_seed(0);
  d.model = models::create_model(m);
  d.model->eval();
  d.transform.image_size_px = 224;
  d.transform.size_mode = data::SizeMode::kResize;
  d.normalization = data::parse_norm_preset(d.config.normalization);
  return d;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

}  // namespace

nlohmann::json run_predict_bench(const PredictBenchOptions& o) {
  FS_CHECK(o.runs >= 1, "--runs must be >= 1, got {}", o.runs);
  set_thread_counts(o.threads, 0);
  const std::string image = ensure_image(o);
  nlohmann::json result = {{"image", image},
                           {"threads", o.threads},
                           {"runs", o.runs},
                           {"models", nlohmann::json::array()}};
  std::string table = fmt::format("{:<10} {:>10} {:>10} {:>12} {:>12} {:>8}\n", "model", "ours p50",
                                  "ours p95", "python p50", "python p95", "ratio");
  for (const auto& name : o.models) {
    eval::Detector detector = in_memory_detector(name);
    // Correctness before timing: a real verdict on the benchmark image.
    const eval::Prediction check = eval::predict_file(detector, image);
    FS_CHECK(check.error.empty(), "cannot predict '{}': {}", image, check.error);
    FS_CHECK(std::isfinite(check.probability_fake) && check.probability_fake >= 0 &&
                 check.probability_fake <= 1,
             "{} gave P(AI) = {} on '{}'", name, check.probability_fake, image);
    for (int i = 0; i < o.warmup_runs; ++i) eval::predict_file(detector, image);
    std::vector<double> ms;
    for (int i = 0; i < o.runs; ++i) ms.push_back(eval::predict_file(detector, image).milliseconds);
    nlohmann::json row = {{"model", name},
                          {"ours_p50_ms", percentile(ms, 0.5)},
                          {"ours_p95_ms", percentile(ms, 0.95)}};
    if (!o.skip_python) {
      const auto peer =
          run_python_peer(o.python, "predict_peer.py",
                          fmt::format("--image {} --model {} --threads {} --warmup {} --runs {}",
                                      shell_quote(image), name, o.threads, o.warmup_runs, o.runs));
      row["python_p50_ms"] = peer.at("p50_ms");
      row["python_p95_ms"] = peer.at("p95_ms");
      row["python_torch"] = peer.at("torch");
      row["speedup_p50"] = peer.at("p50_ms").get<double>() / row["ours_p50_ms"].get<double>();
    }
    table += fmt::format(
        "{:<10} {:>8.2f}ms {:>8.2f}ms {:>10}ms {:>10}ms {:>7}x\n", name,
        row["ours_p50_ms"].get<double>(), row["ours_p95_ms"].get<double>(),
        row.contains("python_p50_ms") ? fmt::format("{:.2f}", row["python_p50_ms"].get<double>())
                                      : "-",
        row.contains("python_p95_ms") ? fmt::format("{:.2f}", row["python_p95_ms"].get<double>())
                                      : "-",
        row.contains("speedup_p50") ? fmt::format("{:.2f}", row["speedup_p50"].get<double>())
                                    : "-");
    result["models"].push_back(row);
  }
  fmt::print("predict latency, one {}x{} JPEG -> verdict, {} threads, {} runs\n{}", kSidePx,
             kSidePx, o.threads, o.runs, table);
  return result;
}

}  // namespace forensight::bench
