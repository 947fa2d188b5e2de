// Model presets by name: resnet18, vit-tiny, vit-small, vit-base (patch 16). A wrong name is
// refused with the list of valid ones.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "forensight/models/classifier.h"

namespace forensight::models {

struct ModelOptions {
  std::string name = "resnet18";  // preset, see model_names()
  int64_t num_classes = 2;        // outputs of the head
  int64_t image_size_px = 224;    // input side (ViT position embeddings are sized for it)
  bool channels_last = false;     // NHWC memory format for convolutions (ResNet)
  int64_t vit_layers = 0;         // ViT encoder blocks (0 = the preset's 12)
};

std::shared_ptr<ClassifierImpl> create_model(const ModelOptions& options);
std::vector<std::string> model_names();

}  // namespace forensight::models
