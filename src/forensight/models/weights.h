// Loading and saving a classifier's weights as safetensors (state-dict names as torchvision's).
// Strict by default: every missing, unexpected, misshapen or wrongly typed tensor is reported at
// once, so a user fixes a checkpoint in one go rather than one key per run.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "forensight/models/classifier.h"

namespace forensight::models {

struct LoadWeightsOptions {
  bool strict = true;  // any missing/unexpected/mismatched tensor is an Error; else warn and skip
  // When the file's head has another class count (e.g. 1000 ImageNet classes), keep the model's
  // freshly initialised head and load everything else; logged. Off: a head mismatch is an error.
  bool replace_head_if_class_count_differs = true;
};

struct LoadWeightsReport {
  std::vector<std::string> loaded;   // names copied into the model
  std::vector<std::string> skipped;  // not loaded: the file's dropped head, mismatches (!strict)
  bool head_replaced = false;        // the file's head was dropped for the model's
  bool pos_embedding_interpolated = false;  // ViT position grid resampled to the model's
};

// The model's parameters and buffers by state-dict name (e.g. "layer1.0.conv1.weight").
std::map<std::string, torch::Tensor> state_dict(const ClassifierImpl& model);

// Copies tensors from a safetensors file into the model (on its device). Floating tensors of
// another precision are converted only when !strict. ViT position embeddings for another grid
// are interpolated. A missing BatchNorm num_batches_tracked is no problem (a counter that only
// momentum=None uses; it is set to 0), as files exported without buffers lack it. Throws Error
// listing every offending key.
LoadWeightsReport load_weights(ClassifierImpl& model, const std::filesystem::path& path,
                               const LoadWeightsOptions& options = {});
// The same from tensors already read (torchvision names); origin names them in messages.
LoadWeightsReport load_weights(ClassifierImpl& model, std::map<std::string, torch::Tensor> tensors,
                               const std::string& origin, const LoadWeightsOptions& options = {});

// Writes the model's state dict to a safetensors file with optional metadata.
void save_weights(const ClassifierImpl& model, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata = {});

// The state-dict prefix of the model's classification head: "fc" (ResNet), "heads.head" (ViT).
std::string head_prefix(const ClassifierImpl& model);

}  // namespace forensight::models
