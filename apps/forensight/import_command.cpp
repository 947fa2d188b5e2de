// forensight import: a detector trained in Python (safetensors or torch.save; torchvision, timm or
// Hugging Face names) -> a Forensight checkpoint. The work is in src/forensight/train/model_import.
#include <fmt/format.h>

#include <memory>

#include "commands.h"
#include "forensight/models/registry.h"
#include "forensight/train/model_import.h"

namespace forensight::app {

void register_import_command(CLI::App& app) {
  auto o = std::make_shared<train::ImportOptions>();
  auto* cmd = app.add_subcommand(
      "import",
      "Make a Forensight checkpoint of PyTorch weights (torchvision, timm, Hugging Face)");
  cmd->add_option("weights", o->weights_path,
                  "safetensors or torch.save file (.pt/.pth/.bin: a state dict, or one under a key "
                  "such as state_dict or model), or a Hugging Face model folder")
      ->required();
  cmd->add_option("--out", o->out_path, "the Forensight checkpoint to write")->required();
  cmd->add_option("--model", o->model,
                  "resnet18, vit-tiny, vit-small or vit-base (default: read off the tensors' "
                  "shapes; given, it must agree)")
      ->check(CLI::IsMember(models::model_names()));
  cmd->add_option("--image-size", o->image_size_px,
                  "input side in pixels (default: the ViT's position grid, 224 for ResNet; a ViT's "
                  "position embeddings are interpolated to another size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--normalization", o->normalization,
                  "imagenet or half (mean = std = 0.5) (default: the layout's own: imagenet for "
                  "torchvision, half for timm and Hugging Face ViTs)")
      ->check(CLI::IsMember({"imagenet", "half"}));
  cmd->callback([o] {
    const train::ImportReport r = train::import_model(*o);
    fmt::print("read {} ({}{})\n", r.source, r.layout,
               r.key.empty() ? "" : fmt::format(", state dict under '{}'", r.key));
    for (const auto& note : r.notes) fmt::print("  {}\n", note);
    fmt::print("wrote {}: {}{} at {} px, {} normalisation, {} tensors\n", o->out_path, r.model,
               r.vit_layers > 0 ? fmt::format(" of depth {}", r.vit_layers) : "", r.image_size_px,
               r.normalization, r.tensors);
  });
}

}  // namespace forensight::app
