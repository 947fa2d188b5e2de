// forensight export: a Forensight checkpoint -> safetensors with torchvision's names and a JSON
// description (model, preprocessing, threshold). The work is in src/forensight/train/model_export.
#include <fmt/format.h>

#include <memory>

#include "commands.h"
#include "forensight/train/model_export.h"

namespace forensight::app {

void register_export_command(CLI::App& app) {
  auto o = std::make_shared<train::ExportOptions>();
  auto* cmd = app.add_subcommand(
      "export", "Write a checkpoint's weights as safetensors with torchvision's names, for Python");
  cmd->add_option("--checkpoint", o->checkpoint_path, "checkpoint from train, import or quantize")
      ->required();
  cmd->add_option("--out", o->out_path, "the .safetensors file to write")->required();
  cmd->add_option("--sidecar", o->sidecar_path,
                  "the JSON description to write (default: --out with .json; - = none)");
  cmd->add_option("--threshold", o->threshold,
                  "P(AI-generated) threshold recorded for the label (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->callback([o] {
    const train::ExportReport r = train::export_model(*o);
    fmt::print("wrote {} ({} tensors, torchvision names): {}\n", o->out_path, r.tensors,
               r.description["python"].get<std::string>());
    if (!r.sidecar_path.empty()) fmt::print("wrote {}\n", r.sidecar_path);
    if (r.int8_dropped)
      fmt::print("note: {} is calibrated for int8; its float weights were exported\n",
                 o->checkpoint_path);
  });
}

}  // namespace forensight::app
