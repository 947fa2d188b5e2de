// The interface every detector model implements: images in, two logits out (0 = real,
// 1 = AI-generated). The trainer, evaluator and server hold models through it.
#pragma once
#include <torch/torch.h>

#include <string>

namespace forensight::models {

class ClassifierImpl : public torch::nn::Module {
 public:
  // x: (B, 3, H, W) float, normalised -> (B, num_classes) logits
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Replaces the classification head with a fresh one of num_classes outputs.
  virtual void reset_head(int64_t num_classes) = 0;
};

}  // namespace forensight::models
