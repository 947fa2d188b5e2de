#include "forensight/eval/quantize.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "forensight/core/error.h"
#include "forensight/data/loader.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/evaluate.h"
#include "forensight/eval/inference.h"
#include "forensight/models/fused_resnet.h"
#include "forensight/models/int8_resnet.h"
#include "forensight/train/checkpoint.h"

namespace forensight::eval {
namespace {

data::DataLoader eval_loader(const Detector& detector, const data::Dataset& dataset,
                             const std::vector<int64_t>& indices, const QuantizeOptions& o) {
  data::LoaderOptions loader;
  loader.batch_size = o.batch_size;
  loader.workers = o.workers;
  loader.shuffle = false;
  loader.drop_last = false;
  return data::DataLoader(dataset, indices, detector.transform, loader);
}

std::vector<int64_t> all_indices(const data::Dataset& dataset) {
  std::vector<int64_t> all(dataset.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  return all;
}

// Activation ranges of the folded float model over up to o.calibration_images images.
torch::Tensor calibrate(models::FusedResNetImpl& fused, const Detector& detector,
                        const data::Dataset& dataset, const QuantizeOptions& o) {
  std::vector<int64_t> indices = choose_split(o.calibration, o.checkpoint_path, dataset);
  if (indices.empty()) indices = all_indices(dataset);
  // An even spread over the split rather than its first images, which may all be one class.
  if (static_cast<int64_t>(indices.size()) > o.calibration_images) {
    std::vector<int64_t> spread;
    const double stride = static_cast<double>(indices.size()) / o.calibration_images;
    for (int i = 0; i < o.calibration_images; ++i)
      spread.push_back(indices[static_cast<size_t>(i * stride)]);
    indices = std::move(spread);
  }
  models::ActivationRangeObserver observer(fused.observation_points());
  auto loader = eval_loader(detector, dataset, indices, o);
  loader.start_epoch(0);
  int64_t seen = 0;
  torch::NoGradGuard no_grad;
  while (auto batch = loader.next()) {
    if (batch->images.size(0) == 0) continue;
    torch::Tensor x =
        data::normalize_batch(batch->images, detector.normalization, detector.input_filter,
                              torch::kCPU, /*channels_last=*/true);  // (B, 3, H, W) float
    fused.forward_observed(x, observer.callback());
    seen += x.size(0);
  }
  FS_CHECK(seen > 0, "no calibration image of '{}' could be read", o.data_path);
  spdlog::info("quantize: activation ranges measured on {} images ({} skipped)", seen,
               loader.epoch_stats().skipped);
  return observer.ranges();
}

}  // namespace

nlohmann::json quantize_checkpoint(const QuantizeOptions& o) {
  FS_CHECK(o.calibration_images >= 1, "--calibration-images must be >= 1, got {}",
           o.calibration_images);
  FS_CHECK(!o.out_path.empty(), "quantize needs --out FILE");
  FS_CHECK(std::filesystem::absolute(o.out_path) != std::filesystem::absolute(o.checkpoint_path),
           "--out '{}' would overwrite the float checkpoint it is made from; choose another path",
           o.out_path);
  FS_CHECK(models::int8_inference_available(),
           "this LibTorch has no quantized engine (oneDNN or FBGEMM), so int8 inference cannot "
           "run here");

  // The trained module as it was saved (unfused), and its header (config, progress). The detector
  // reads the file on its own: a reader's tensors go to one model only, and `detector` is folded.
  train::CheckpointReader source(o.checkpoint_path, torch::kCPU);
  Detector detector = load_detector(o.checkpoint_path, torch::kCPU, Precision::kFloat32);
  auto* fused = dynamic_cast<models::FusedResNetImpl*>(detector.model.get());
  FS_CHECK(fused, "int8 quantization is implemented for ResNet checkpoints; '{}' holds {}",
           o.checkpoint_path, detector.config.model);

  const data::Dataset dataset = data::load_dataset(o.data_path);
  const torch::Tensor ranges = calibrate(*fused, detector, dataset, o);

  // The calibrated checkpoint: the trained weights as they were, plus the ranges.
  {
    auto trained = models::create_model(train::model_options(detector.config));
    source.load_model(*trained);
    train::Checkpoint out = source.header();
    out.int8_ranges = ranges;
    std::filesystem::create_directories(std::filesystem::absolute(o.out_path).parent_path());
    train::save_checkpoint(o.out_path, *trained, nullptr, out);
  }
  spdlog::info("quantize: wrote {}", o.out_path);

  // The check: the same images through fp32 and int8.
  Detector int8 = load_detector(o.out_path, torch::kCPU, Precision::kInt8);
  std::vector<int64_t> check = choose_split(o.check, o.checkpoint_path, dataset);
  auto run = [&](Detector& d) {
    auto loader = eval_loader(d, dataset, check, o);
    return run_inference(*d.model, loader, inference_options(d));
  };
  const InferenceResult a = run(detector);
  const InferenceResult b = run(int8);
  FS_CHECK(!a.scores.empty() && a.scores.size() == b.scores.size(),
           "the fp32 and int8 passes read different images ({} vs {})", a.scores.size(),
           b.scores.size());
  int64_t agree = 0;
  double max_change = 0.0, sum_change = 0.0;
  for (size_t i = 0; i < a.scores.size(); ++i) {
    agree += (a.scores[i] >= 0.5) == (b.scores[i] >= 0.5);
    const double change = std::fabs(a.scores[i] - b.scores[i]);
    max_change = std::max(max_change, change);
    sum_change += change;
  }
  const double n = static_cast<double>(a.scores.size());
  nlohmann::json report = {{"checkpoint", o.checkpoint_path},
                           {"out", o.out_path},
                           {"calibration_points", ranges.size(0)},
                           {"images", a.scores.size()},
                           {"verdict_agreement", agree / n},
                           {"max_probability_change", max_change},
                           {"mean_probability_change", sum_change / n},
                           {"fp32_images_per_s", n / std::max(a.seconds, 1e-9)},
                           {"int8_images_per_s", n / std::max(b.seconds, 1e-9)}};
  if (dataset.labelled) {
    report["fp32"] = summarize(a);
    report["int8"] = summarize(b);
  }
  return report;
}

}  // namespace forensight::eval
