#include "forensight/eval/detector.h"

#include <fmt/ranges.h>

#include "forensight/core/error.h"
#include "forensight/models/fused_resnet.h"
#include "forensight/models/int8_resnet.h"
#include "forensight/models/registry.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"

namespace forensight::eval {

std::vector<std::string> precision_names() {
  return {"auto", "fp32", "int8"};
}

Precision parse_precision(const std::string& name) {
  if (name == "auto") return Precision::kAuto;
  if (name == "fp32") return Precision::kFloat32;
  if (name == "int8") return Precision::kInt8;
  fail("unknown precision '{}': valid precisions are {}", name, fmt::join(precision_names(), ", "));
}

void prepare_for_inference(Detector& detector, Precision precision,
                           const torch::Tensor& int8_ranges,
                           std::optional<models::Int8Engine> int8_engine) {
  auto* resnet = dynamic_cast<models::ResNetImpl*>(detector.model.get());
  const bool calibrated = int8_ranges.defined();
  if (precision == Precision::kInt8) {
    FS_CHECK(resnet, "int8 inference is implemented for ResNet checkpoints; '{}' holds {}",
             detector.checkpoint_path, detector.config.model);
    FS_CHECK(calibrated,
             "checkpoint '{}' has no int8 calibration: run `forensight quantize --checkpoint {} "
             "--data DATA --out OUT` and predict with OUT",
             detector.checkpoint_path, detector.checkpoint_path);
    FS_CHECK(detector.device.is_cpu(), "int8 inference runs on the CPU, not on {}",
             detector.device.str());
  }
  if (!resnet) return;
  detector.channels_last = true;
  auto fused = std::make_shared<models::FusedResNetImpl>(*resnet);
  const bool int8 = precision == Precision::kInt8 ||
                    (precision == Precision::kAuto && calibrated && detector.device.is_cpu() &&
                     models::int8_inference_available());
  if (int8) {
    detector.model = std::make_shared<models::Int8ResNetImpl>(
        *fused, int8_ranges, data::norm_statistics(detector.normalization),
        int8_engine.value_or(models::default_int8_engine()));
    detector.precision = "int8";
    // The int8 stem folds the normalisation into its weights and reads the pixels exactly; a
    // filtered input is no longer pixels, so it gets the float input (filtered, normalised) and
    // the stem runs in float, quantizing its output with the range calibrated on the same input.
    detector.raw_pixels = detector.input_filter == data::InputFilter::kNone;
  } else {
    detector.model = fused;
    detector.precision = "fp32";
    detector.raw_pixels = false;
  }
}

InferenceOptions inference_options(const Detector& detector) {
  InferenceOptions options;
  options.normalization = detector.normalization;
  options.input_filter = detector.input_filter;
  options.device = detector.device;
  options.channels_last = detector.channels_last;
  options.raw_pixels = detector.raw_pixels;
  return options;
}

Detector load_detector(const std::string& checkpoint_path, const torch::Device& device,
                       Precision precision) {
  Detector detector;
  detector.checkpoint_path = checkpoint_path;
  detector.device = device;
  train::CheckpointReader reader(checkpoint_path, device);  // the file is read once
  const train::Checkpoint& header = reader.header();
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(header.config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint '{}' holds an unreadable config: {}", checkpoint_path, e.what());
  }
  detector.config = train::train_options_from_json(config, checkpoint_path + " (config)");
  detector.model = models::create_model(train::model_options(detector.config));
  reader.load_model(*detector.model);
  detector.model->to(device);
  detector.model->eval();
  detector.channels_last = train::input_channels_last(detector.config, device.is_cpu());
  detector.transform = train::eval_transform(detector.config);
  detector.normalization = data::parse_norm_preset(detector.config.normalization);
  detector.input_filter = data::parse_input_filter(detector.config.input_filter);
  prepare_for_inference(detector, precision, header.int8_ranges);
  return detector;
}

}  // namespace forensight::eval
