// Detectors trained elsewhere, in: a weights file from PyTorch (safetensors or torch.save, with
// torchvision, timm or Hugging Face names) becomes a Forensight checkpoint with the preprocessing
// recorded in its config, which predict, eval, quantize, serve and train --init use as they use
// one Forensight trained. The same reading serves `train --init`.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "forensight/models/classifier.h"
#include "forensight/models/foreign_weights.h"
#include "forensight/models/weights.h"

namespace forensight::train {

struct ImportOptions {
  std::string weights_path;   // a file, or a Hugging Face folder (model.safetensors inside)
  std::string out_path;       // the Forensight checkpoint to write
  std::string model;          // resnet18, vit-tiny, vit-small, vit-base; "" = read off the file
  int image_size_px = 0;      // model input side; 0 = the ViT's position grid, or 224 (ResNet)
  std::string normalization;  // imagenet or half; "" = the layout's own (imagenet: torchvision)
};

struct ImportReport {
  std::string source;  // the file read (inside the folder, when a folder was given)
  std::string key;     // where the state dict sat in a torch.save file ("" = the file itself)
  std::string layout;  // "torchvision ResNet", "Hugging Face ViT (transformers 4.x names)", ...
  std::string model;   // the preset
  int vit_layers = 0;  // encoder blocks when not the preset's (0)
  int image_size_px = 0;
  std::string normalization;
  size_t tensors = 0;              // tensors loaded
  std::vector<std::string> notes;  // renames, conversions, a single-logit head widened
};

ImportReport import_model(const ImportOptions& options);

// A weights file (safetensors, torch.save zip, or a Hugging Face folder) in torchvision names,
// floating tensors as float32. Error naming the file for anything else, with what to do.
models::ForeignWeights read_foreign_weights(const std::string& path, std::string* source = nullptr,
                                            std::string* key = nullptr);

// `train --init`: a Forensight checkpoint's weights, or any file read_foreign_weights reads; a head
// of another class count is replaced by the model's fresh one, position grids interpolated.
models::LoadWeightsReport load_init_weights(models::ClassifierImpl& model, const std::string& path);

}  // namespace forensight::train
