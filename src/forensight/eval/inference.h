// Runs a classifier over a loader without gradients and collects P(AI-generated) per sample: the
// common core of validation, `eval`, `predict` and the robustness sweep.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "forensight/data/loader.h"
#include "forensight/data/normalize.h"
#include "forensight/models/classifier.h"

namespace forensight::eval {

struct InferenceResult {
  std::vector<double> scores;    // P(AI-generated) per sample, in loader order
  std::vector<int> labels;       // -1 when unlabelled
  std::vector<int64_t> indices;  // index into the dataset's samples
  std::vector<double> losses;    // cross-entropy per sample, NaN when unlabelled
  double mean_loss = 0.0;        // cross-entropy over labelled samples (0 when none)
  int64_t skipped = 0;           // unreadable files
  double seconds = 0.0;
};

struct InferenceOptions {
  data::NormPreset normalization = data::NormPreset::kImageNet;
  data::InputFilter input_filter = data::InputFilter::kNone;
  torch::Device device = torch::kCPU;
  bool channels_last = false;
  bool raw_pixels = false;  // the model takes the uint8 batch and normalises it itself
  // Runs the forward pass instead of model.forward (a model placed over several devices); null =
  // model.forward.
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

// Iterates one epoch of `loader` (epoch 0: deterministic order and transforms for evaluation).
InferenceResult run_inference(models::ClassifierImpl& model, data::DataLoader& loader,
                              const InferenceOptions& options);

// Mean of the labelled samples' losses (NaN = unlabelled), summed in sample order; 0 when none.
double mean_loss(const std::vector<double>& losses);

// Probabilities of class 1 from logits. logits: (B, 2) -> (B) float
torch::Tensor fake_probability(const torch::Tensor& logits);

}  // namespace forensight::eval
