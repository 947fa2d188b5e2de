// Export: the checkpoint's model rebuilt from its own config, its state dict (already torchvision's
// names: models/resnet.h, models/vit.h) written as safetensors, and a description a Python user
// needs to get the same probabilities: the constructor, the input size and normalisation, the
// threshold and what the labels mean.
#include "forensight/train/model_export.h"

#include <fmt/format.h>

#include <filesystem>

#include "forensight/core/atomic_file.h"
#include "forensight/core/error.h"
#include "forensight/data/input_filter.h"
#include "forensight/data/normalize.h"
#include "forensight/models/registry.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/vit.h"
#include "forensight/models/weights.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"

namespace forensight::train {
namespace {

// The Python expression that builds the exported model in torchvision.
std::string python_constructor(const models::ClassifierImpl& model) {
  if (const auto* vit = dynamic_cast<const models::VisionTransformerImpl*>(&model)) {
    const models::VitOptions& o = vit->options();
    return fmt::format(
        "torchvision.models.vision_transformer.VisionTransformer(image_size={}, patch_size={}, "
        "num_layers={}, num_heads={}, hidden_dim={}, mlp_dim={}, num_classes={})",
        o.image_size_px, o.patch_size_px, o.num_layers, o.num_heads, o.hidden_dim, o.mlp_dim,
        o.num_classes);
  }
  return "torchvision.models.resnet18(num_classes=2)";
}

// How to make the model's input in Python, the input filter included (data/input_filter.h): a
// user who skips the filter would feed the network images it never saw.
std::string input_description(const TrainOptions& config) {
  const int side = config.image_size_px;
  switch (data::parse_input_filter(config.input_filter)) {
    case data::InputFilter::kNpr:
      return fmt::format(
          "RGB, (B, 3, {0}, {0}) float: x = pixel (0..255 float); r = x - "
          "F.interpolate(F.interpolate(x, scale_factor=0.5, mode='nearest'), scale_factor=2, "
          "mode='nearest') per channel (the NPR residual; sides even); input = r / 255 / std "
          "(no mean: r has none)",
          side);
    case data::InputFilter::kHighPass:
      return fmt::format(
          "RGB, (B, 3, {0}, {0}) float: x = pixel (0..255 float); r = F.conv2d(F.pad(x, (1, 1, "
          "1, 1), mode='replicate'), w, groups=3) with w = [[0, -1, 0], [-1, 4, -1], [0, -1, 0]] "
          "/ 4 for each channel; input = r / 255 / std (no mean: r has none)",
          side);
    case data::InputFilter::kNone:
      break;
  }
  return fmt::format("RGB, (B, 3, {0}, {0}) float: pixel / 255, minus mean, over std", side);
}

}  // namespace

ExportReport export_model(const ExportOptions& options) {
  FS_CHECK(options.threshold >= 0.0 && options.threshold <= 1.0,
           "--threshold must be in [0, 1], got {}", options.threshold);
  CheckpointReader reader(options.checkpoint_path, torch::kCPU);
  nlohmann::json config_json;
  try {
    config_json = nlohmann::json::parse(reader.header().config_json);
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint '{}' holds an unreadable config: {}", options.checkpoint_path, e.what());
  }
  const TrainOptions config =
      train_options_from_json(config_json, options.checkpoint_path + " (config)");
  models::ModelOptions model_config = model_options(config);
  model_config.channels_last = false;  // the file holds plain NCHW tensors either way
  auto model = models::create_model(model_config);
  reader.load_model(*model);

  ExportReport report;
  report.int8_dropped = reader.header().int8_ranges.defined();
  const data::NormStatistics norm =
      data::norm_statistics(data::parse_norm_preset(config.normalization));
  report.description = {
      {"format", "forensight-export-1"},
      {"model", config.model},
      {"python", python_constructor(*model)},
      {"names", "torchvision"},
      {"image_size_px", config.image_size_px},
      {"size_mode", config.size_mode},
      {"normalization", config.normalization},
      {"mean", norm.mean},
      {"std", norm.std},
      {"input_filter", config.input_filter},
      {"input", input_description(config)},
      {"output", "logits (B, 2); softmax(logits)[:, 1] = P(AI-generated)"},
      {"labels", {{"0", "real"}, {"1", "ai-generated"}}},
      {"threshold", options.threshold},
      {"source_checkpoint", options.checkpoint_path},
      {"int8_calibration_exported", false},
  };
  if (report.int8_dropped)
    report.description["note"] =
        "the checkpoint was calibrated for int8; these are its float weights (the int8 "
        "calibration has no counterpart in a safetensors state dict)";

  // safetensors metadata is string -> string: strings as they are, the rest as JSON.
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  for (const auto& [key, value] : report.description.items())
    metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
  const auto tensors = models::state_dict(*model);
  models::write_safetensors(options.out_path, tensors, metadata);
  report.tensors = tensors.size();

  if (options.sidecar_path != "-") {
    report.sidecar_path =
        options.sidecar_path.empty()
            ? std::filesystem::path(options.out_path).replace_extension(".json").string()
            : options.sidecar_path;
    FS_CHECK(report.sidecar_path != options.out_path,
             "the JSON sidecar would overwrite the weights '{}'; name it with --sidecar",
             options.out_path);
    write_file_atomic(report.sidecar_path, report.description.dump(2) + "\n");
  }
  return report;
}

}  // namespace forensight::train
