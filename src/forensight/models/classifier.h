// The interface every detector model implements: images in, two logits out (0 = real,
// 1 = AI-generated). The trainer, evaluator and server hold models through it.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "forensight/core/collective.h"
#include "forensight/core/error.h"
#include "forensight/models/stage_unit.h"

namespace forensight::models {

class ClassifierImpl : public torch::nn::Module {
 public:
  // x: (B, 3, H, W) float, normalised -> (B, num_classes) logits
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // Replaces the classification head with a fresh one of num_classes outputs.
  virtual void reset_head(int64_t num_classes) = 0;
  // The forward as ordered units at block boundaries (stage_unit.h), for model placement over
  // several devices; running them in order equals forward(). Models that cannot split refuse.
  virtual std::vector<StageUnit> stage_units() {
    fail("this model cannot be split into pipeline stages; use --placement one");
  }
  // Training-mode BatchNorm statistics over every rank's batch from now on (null: per process
  // again). Returns false for a model without BatchNorm, which this leaves as it is.
  virtual bool synchronize_batch_norm(std::shared_ptr<SumAcrossProcesses> ranks) { return false; }
};

}  // namespace forensight::models
