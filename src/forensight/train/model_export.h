// Detectors trained here, out: a Forensight checkpoint's float weights as safetensors with
// torchvision's names, which `torchvision.models.resnet18(num_classes=2).load_state_dict(...)`
// (or torchvision's VisionTransformer with the recorded shape) takes as they are, and the
// preprocessing and threshold in the file's metadata and a JSON sidecar beside it.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace forensight::train {

struct ExportOptions {
  std::string checkpoint_path;  // from train, import or quantize
  std::string out_path;         // the .safetensors file to write
  std::string sidecar_path;     // the JSON description; "" = out_path with .json, "-" = none
  double threshold = 0.5;       // P(AI-generated) at or above which the label is 1, in [0, 1]
};

struct ExportReport {
  nlohmann::json description;  // model, python constructor, preprocessing, threshold, labels
  size_t tensors = 0;
  bool int8_dropped = false;  // the checkpoint was calibrated for int8; its float weights went out
  std::string sidecar_path;   // "" when none was written
};

ExportReport export_model(const ExportOptions& options);

}  // namespace forensight::train
