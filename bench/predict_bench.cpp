#include "bench/predict_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "bench/python_peer.h"
#include "bench/seed_images.h"
#include "bench/statistics.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/synth.h"
#include "forensight/eval/predictor.h"
#include "forensight/models/fused_resnet.h"
#include "forensight/models/int8_resnet.h"
#include "forensight/models/registry.h"

namespace forensight::bench {
namespace {

constexpr int kCalibrationImages = 16;

// A small `data synth` set of 700x700 q90 JPEGs (crops of photographs and generator output): the
// int8 variant's calibration images.
std::vector<std::string> ensure_images(const PredictBenchOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(o.work_dir) / fmt::format("synth700_n{}", kCalibrationImages);
  if (!fs::exists(dir / "train.csv")) {
    data::SynthOptions synth;
    synth.out_dir = dir.string();
    synth.count = kCalibrationImages;
    synth.size_px = kSeedImageSidePx;
    synth.quality = kSeedImageJpegQuality;
    data::synthesize_dataset(synth);
  }
  std::vector<std::string> images;
  for (const char* label : {"0_real", "1_fake"})
    for (const auto& entry : fs::directory_iterator(dir / label))
      if (entry.path().extension() == ".jpg") images.push_back(entry.path().string());
  std::sort(images.begin(), images.end());  // 0_real/... first: a photograph crop
  FS_CHECK(!images.empty(), "no JPEG in '{}': delete the folder and run again", dir.string());
  return images;
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
  d.precision = "fp32 (unfused)";
  d.transform.image_size_px = 224;
  d.transform.size_mode = data::SizeMode::kResize;
  d.normalization = data::parse_norm_preset(d.config.normalization);
  return d;
}

// The variants timed per model: the trained module as is, and for ResNet its inference engines
// (BatchNorm folded in fp32; int8 calibrated on the synth images).
std::vector<eval::Detector> variants(const std::string& model,
                                     const std::vector<std::string>& calibration_images) {
  std::vector<eval::Detector> out = {in_memory_detector(model)};
  if (model != "resnet18") return out;
  eval::Detector fp32 = in_memory_detector(model);
  eval::prepare_for_inference(fp32, eval::Precision::kFloat32, {});
  auto& fused = dynamic_cast<models::FusedResNetImpl&>(*fp32.model);
  models::ActivationRangeObserver observer(fused.observation_points());
  torch::NoGradGuard no_grad;
  for (const auto& path : calibration_images)
    fused.forward_observed(eval::preprocess_bytes(fp32, data::read_file_bytes(path)),
                           observer.callback());
  // int8 as predict runs it (the default engine), then on every other engine this LibTorch has.
  eval::Detector int8 = in_memory_detector(model);
  eval::prepare_for_inference(int8, eval::Precision::kInt8, observer.ranges());
  const auto engine = dynamic_cast<models::Int8ResNetImpl&>(*int8.model).engine();
  int8.precision = fmt::format("int8 ({})", models::int8_engine_name(engine));
  out.push_back(std::move(fp32));
  out.push_back(std::move(int8));
  for (auto other : {models::Int8Engine::kOnednn, models::Int8Engine::kFbgemm}) {
    if (other == engine || !models::int8_engine_available(other)) continue;
    eval::Detector d = in_memory_detector(model);
    eval::prepare_for_inference(d, eval::Precision::kInt8, observer.ranges(), other);
    d.precision = fmt::format("int8 ({})", models::int8_engine_name(other));
    out.push_back(std::move(d));
  }
  return out;
}

// One variant's timings over the rounds; each round's p50 and p95 of `runs` predictions.
struct VariantTimes {
  std::vector<double> p50_ms, p95_ms;
};

}  // namespace

nlohmann::json run_predict_bench(const PredictBenchOptions& o) {
  FS_CHECK(o.runs >= 1, "--runs must be >= 1, got {}", o.runs);
  FS_CHECK(o.rounds >= 1, "--rounds must be >= 1, got {}", o.rounds);
  set_thread_counts(o.threads, 0);
  const std::vector<std::string> calibration_images = ensure_images(o);
  const std::string image = o.image.empty() ? calibration_images.front() : o.image;
  nlohmann::json result = {{"image", image},
                           {"threads", o.threads},
                           {"runs", o.runs},
                           {"rounds", o.rounds},
                           {"models", nlohmann::json::array()}};
  std::string table =
      fmt::format("{:<10} {:<16} {:>10} {:>10} {:>12} {:>12} {:>8}\n", "model", "ours as",
                  "ours p50", "ours p95", "python p50", "python p95", "ratio");
  for (const auto& name : o.models) {
    std::vector<eval::Detector> detectors = variants(name, calibration_images);
    std::vector<double> probabilities;
    for (auto& detector : detectors) {
      // Correctness before timing: a real verdict on the benchmark image.
      const eval::Prediction check = eval::predict_file(detector, image);
      probabilities.push_back(check.probability_fake);
      FS_CHECK(check.error.empty(), "cannot predict '{}': {}", image, check.error);
      FS_CHECK(std::isfinite(check.probability_fake) && check.probability_fake >= 0 &&
                   check.probability_fake <= 1,
               "{} gave P(AI) = {} on '{}'", name, check.probability_fake, image);
    }
    // Rounds of (Python, then each of ours), so that a slow spell of this machine lands on both
    // sides of a ratio rather than on one; the figures are medians over the rounds.
    VariantTimes peer;
    std::vector<VariantTimes> ours(detectors.size());
    for (int round = 0; round < o.rounds; ++round) {
      if (!o.skip_python) {
        const nlohmann::json r = run_python_peer(
            o.python, "predict_peer.py",
            fmt::format("--image {} --model {} --threads {} --warmup {} --runs {}",
                        shell_quote(image), name, o.threads, o.warmup_runs, o.runs));
        peer.p50_ms.push_back(r.at("p50_ms").get<double>());
        peer.p95_ms.push_back(r.at("p95_ms").get<double>());
        result["python_torch"] = r.at("torch");
      }
      for (size_t v = 0; v < detectors.size(); ++v) {
        for (int i = 0; i < o.warmup_runs; ++i) eval::predict_file(detectors[v], image);
        std::vector<double> ms;
        for (int i = 0; i < o.runs; ++i)
          ms.push_back(eval::predict_file(detectors[v], image).milliseconds);
        ours[v].p50_ms.push_back(percentile(ms, 0.5));
        ours[v].p95_ms.push_back(percentile(ms, 0.95));
      }
    }
    for (size_t v = 0; v < detectors.size(); ++v) {
      nlohmann::json row = {{"model", name},
                            {"precision", detectors[v].precision},
                            {"probability_fake", probabilities[v]},
                            {"ours_p50_ms", median(ours[v].p50_ms)},
                            {"ours_p95_ms", median(ours[v].p95_ms)},
                            {"ours_p50_ms_per_round", ours[v].p50_ms}};
      if (!peer.p50_ms.empty()) {
        std::vector<double> ratios;
        for (size_t r = 0; r < peer.p50_ms.size(); ++r)
          ratios.push_back(peer.p50_ms[r] / ours[v].p50_ms[r]);
        row["python_p50_ms"] = median(peer.p50_ms);
        row["python_p95_ms"] = median(peer.p95_ms);
        row["python_p50_ms_per_round"] = peer.p50_ms;
        row["speedup_p50_per_round"] = ratios;
        row["speedup_p50"] = median(ratios);
      }
      auto cell = [&](const char* key) {
        return row.contains(key) ? fmt::format("{:.2f}", row[key].get<double>()) : "-";
      };
      table += fmt::format("{:<10} {:<16} {:>8.2f}ms {:>8.2f}ms {:>10}ms {:>10}ms {:>7}x\n", name,
                           detectors[v].precision, row["ours_p50_ms"].get<double>(),
                           row["ours_p95_ms"].get<double>(), cell("python_p50_ms"),
                           cell("python_p95_ms"), cell("speedup_p50"));
      result["models"].push_back(row);
    }
  }
  fmt::print(
      "predict latency, one {}x{} JPEG -> verdict, {} threads, {} runs x {} rounds (medians over "
      "rounds)\n{}",
      kSeedImageSidePx, kSeedImageSidePx, o.threads, o.runs, o.rounds, table);
  return result;
}

}  // namespace forensight::bench
