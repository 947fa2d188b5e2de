// A trained detector ready for inference: the model rebuilt from a checkpoint's own config, its
// weights, and the evaluation-time preprocessing that config implies. `eval`, `predict` and the
// server all start from here, so they can never disagree on how an image is prepared.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "forensight/data/normalize.h"
#include "forensight/data/transform.h"
#include "forensight/models/classifier.h"
#include "forensight/train/train_options.h"

namespace forensight::eval {

struct Detector {
  std::string checkpoint_path;
  train::TrainOptions config;                     // the run's resolved options
  std::shared_ptr<models::ClassifierImpl> model;  // in eval mode, on `device`
  data::TransformOptions transform;               // deterministic (no augmentation)
  data::NormPreset normalization = data::NormPreset::kImageNet;
  torch::Device device = torch::kCPU;

  std::string name() const { return config.model; }
};

// Throws Error naming the checkpoint when it is missing, not a Forensight checkpoint, or does not
// match the model its config describes.
Detector load_detector(const std::string& checkpoint_path, const torch::Device& device);

}  // namespace forensight::eval
