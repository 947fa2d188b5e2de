// Import: read (safetensors or torch.save), rename (models/foreign_weights), decide the preset from
// the tensors' shapes (ViT width and depth, patch size, position grid), adapt the head (a single
// logit becomes two), load strictly, write a checkpoint whose config records the preprocessing.
#include "forensight/train/model_import.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "forensight/core/error.h"
#include "forensight/data/normalize.h"
#include "forensight/models/registry.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/shape.h"
#include "forensight/models/torch_save.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"

namespace forensight::train {
namespace {

namespace fs = std::filesystem;

struct VitPreset {
  const char* name;
  int64_t hidden_dim;
  int64_t mlp_dim;
};
constexpr VitPreset kVitPresets[] = {
    {"vit-tiny", 192, 768}, {"vit-small", 384, 1536}, {"vit-base", 768, 3072}};
constexpr int64_t kPresetLayers = 12;
constexpr int64_t kPresetPatch = 16;

// The preset a ViT's shape is, checked against the one asked for.
std::string vit_preset(const models::VitShape& s, const std::string& asked,
                       const std::string& origin) {
  FS_CHECK(s.patch_size_px == kPresetPatch,
           "'{}': a ViT with {}-pixel patches; Forensight's ViTs use {}-pixel patches", origin,
           s.patch_size_px, kPresetPatch);
  const VitPreset* found = nullptr;
  for (const auto& p : kVitPresets)
    if (p.hidden_dim == s.hidden_dim && p.mlp_dim == s.mlp_dim) found = &p;
  if (!found)
    fail(
        "'{}': a ViT {} wide with an MLP of {} matches no preset (vit-tiny 192/768, vit-small "
        "384/1536, vit-base 768/3072)",
        origin, s.hidden_dim, s.mlp_dim);
  FS_CHECK(asked.empty() || asked == found->name,
           "'{}' holds a {} ({} wide, MLP {}, {} layers), not the {} that --model asked for; pass "
           "--model {} or leave it out",
           origin, found->name, s.hidden_dim, s.mlp_dim, s.num_layers, asked, found->name);
  return found->name;
}

// Floating tensors as float32 (the models' precision): a half or bfloat16 file loads too.
void to_float32(models::ForeignWeights& weights) {
  std::string converted;  // the first other precision met, for the note
  for (auto& [name, tensor] : weights.tensors)
    if (tensor.is_floating_point() && tensor.scalar_type() != torch::kFloat) {
      if (converted.empty()) converted = c10::toString(tensor.scalar_type());
      tensor = tensor.to(torch::kFloat);
    }
  if (!converted.empty())
    weights.notes.push_back(fmt::format("{} tensors converted to float32", converted));
}

// A detector's head has two outputs (0 real, 1 AI-generated). A single-logit head (sigmoid, as
// BCEWithLogitsLoss trains) becomes two: logits (0, z) give softmax P(1) = sigmoid(z).
void adapt_head(models::ForeignWeights& weights, const std::string& head,
                const std::string& origin) {
  auto weight = weights.tensors.find(head + ".weight");  // (classes, features)
  FS_CHECK(weight != weights.tensors.end() && weight->second.dim() == 2,
           "'{}' ({}) has no classification head {}.weight of shape (2, features); found {}",
           origin, weights.layout, head, models::list_tensors(weights.tensors));
  const int64_t classes = weight->second.size(0);
  if (classes == 2) return;
  FS_CHECK(classes == 1,
           "'{}': the head {}.weight is {}: {} classes, where a detector has 2 (0 real, 1 "
           "AI-generated) or one logit of P(AI-generated). To fine-tune a classifier of other "
           "classes, start a training run from it: `forensight train --init {}` replaces the head",
           origin, head, models::format_shape(weight->second.sizes()), classes, origin);
  weight->second = torch::cat({torch::zeros_like(weight->second), weight->second}, 0);
  auto bias = weights.tensors.find(head + ".bias");
  if (bias != weights.tensors.end())
    bias->second = torch::cat({torch::zeros_like(bias->second), bias->second}, 0);
  weights.notes.push_back(
      "a single-logit head became two logits (0, z): P(AI-generated) = "
      "sigmoid(z) as before");
}

}  // namespace

models::ForeignWeights read_foreign_weights(const std::string& path, std::string* source,
                                            std::string* key) {
  fs::path file = path;
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    // A Hugging Face save_pretrained folder.
    fs::path found;
    for (const char* name : {"model.safetensors", "pytorch_model.bin"})
      if (fs::is_regular_file(file / name, ec)) {
        found = file / name;
        break;
      }
    FS_CHECK(!found.empty(),
             "'{}' is a folder without model.safetensors or pytorch_model.bin (sharded "
             "checkpoints are not read); give the weights file itself",
             path);
    file = found;
  }
  const std::string name = file.string();
  if (source) *source = name;
  std::map<std::string, torch::Tensor> tensors;
  switch (models::detect_weight_file_format(file)) {
    case models::WeightFileFormat::kSafetensors:
      tensors = models::read_safetensors(file).tensors;
      break;
    case models::WeightFileFormat::kTorchSave:
    case models::WeightFileFormat::kTorchSaveLegacy: {
      models::TorchStateDict state = models::read_torch_save(file);
      if (key) *key = state.key;
      tensors = std::move(state.tensors);
      break;
    }
    case models::WeightFileFormat::kLibTorchArchive:
      fail(
          "'{}' is a LibTorch archive (a Forensight checkpoint, or torch.jit.save): a Forensight "
          "checkpoint needs no import, use it as it is; for a TorchScript model save its state "
          "dict instead, torch.save(model.state_dict(), PATH)",
          name);
    case models::WeightFileFormat::kUnknown:
      fail(
          "'{}' is neither safetensors nor a torch.save file (.pt/.pth/.bin, the zip format); "
          "convert other formats with scripts/export_weights.py",
          name);
  }
  models::ForeignWeights weights = models::to_torchvision_names(std::move(tensors), name);
  to_float32(weights);
  return weights;
}

ImportReport import_model(const ImportOptions& options) {
  ImportReport report;
  models::ForeignWeights weights =
      read_foreign_weights(options.weights_path, &report.source, &report.key);
  const std::string& origin = report.source;
  report.layout = weights.layout;

  TrainOptions config;
  config.init_weights = options.weights_path;
  if (weights.family == "resnet") {
    FS_CHECK(options.model.empty() || options.model == "resnet18",
             "'{}' holds a ResNet ({}), not the {} that --model asked for; pass --model resnet18",
             origin, weights.layout, options.model);
    config.model = "resnet18";
    config.image_size_px = options.image_size_px > 0 ? options.image_size_px : 224;
    adapt_head(weights, "fc", origin);
  } else {
    FS_CHECK(options.model.empty() || options.model.rfind("vit-", 0) == 0,
             "'{}' holds a ViT ({}), not the {} that --model asked for; valid: vit-tiny, "
             "vit-small, vit-base",
             origin, weights.layout, options.model);
    const models::VitShape shape = models::vit_shape(weights.tensors, origin);
    config.model = vit_preset(shape, options.model, origin);
    config.vit_layers = shape.num_layers == kPresetLayers ? 0 : static_cast<int>(shape.num_layers);
    config.image_size_px = options.image_size_px > 0
                               ? options.image_size_px
                               : static_cast<int>(shape.grid_size * shape.patch_size_px);
    adapt_head(weights, "heads.head", origin);
  }
  config.normalization =
      options.normalization.empty() ? weights.normalization : options.normalization;
  data::parse_norm_preset(config.normalization);  // refuses unknown names, listing the valid ones

  auto model = models::create_model(model_options(config));
  models::LoadWeightsOptions load;
  load.strict = true;
  load.replace_head_if_class_count_differs = false;
  const models::LoadWeightsReport loaded =
      models::load_weights(*model, weights.tensors, origin, load);
  if (loaded.pos_embedding_interpolated)
    weights.notes.push_back(
        fmt::format("position embeddings interpolated to {} px", config.image_size_px));

  Checkpoint checkpoint;
  checkpoint.config_json = train_options_to_json(config).dump();
  save_checkpoint(options.out_path, *model, nullptr, checkpoint);

  report.model = config.model;
  report.vit_layers = config.vit_layers;
  report.image_size_px = config.image_size_px;
  report.normalization = config.normalization;
  report.tensors = loaded.loaded.size();
  report.notes = std::move(weights.notes);
  return report;
}

models::LoadWeightsReport load_init_weights(models::ClassifierImpl& model,
                                            const std::string& path) {
  models::LoadWeightsOptions options;
  options.replace_head_if_class_count_differs = true;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) &&
      models::detect_weight_file_format(path) == models::WeightFileFormat::kLibTorchArchive) {
    // A Forensight checkpoint: its model's tensors by name, through the same checks.
    CheckpointReader reader(path, torch::kCPU);
    auto source = models::create_model(model_options(train_options_from_json(
        nlohmann::json::parse(reader.header().config_json), path + " (config)")));
    reader.load_model(*source);
    return models::load_weights(model, models::state_dict(*source), path, options);
  }
  models::ForeignWeights weights = read_foreign_weights(path);
  for (const auto& note : weights.notes) spdlog::info("'{}' ({}): {}", path, weights.layout, note);
  return models::load_weights(model, std::move(weights.tensors), path, options);
}

}  // namespace forensight::train
