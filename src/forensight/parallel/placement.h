// The model placement policy: where the model's forward and backward run. "one" runs the model as
// it is on its device; "naive" and "pipeline" cut it into stages over several devices
// (stages.h): naive runs the whole batch through stage 1, then stage 2, ...; pipeline is GPipe
// (Huang et al. 2019, pipeline.h). The trainer calls forward_backward every step and never
// branches on which placement it holds.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "forensight/models/classifier.h"
#include "forensight/parallel/precision.h"

namespace forensight::parallel {

struct PlacementOptions {
  std::string kind = "one";                  // one | naive | pipeline
  std::vector<torch::Device> stage_devices;  // one per stage (>= 2); empty for "one"
  int micro_batches = 4;                     // pipeline: micro-batches per batch, 1..batch size
  // Pipeline, CPU stages: intra-op threads of each stage's thread (empty = the calling thread's
  // intra-op threads split evenly over the CPU stages, at least 1 each).
  std::vector<int> stage_threads;
};

// loss_fn: (logits (B, 2) float32, labels (B) int64) -> scalar mean loss over those rows. The
// pipeline calls it on its last stage's thread, once per micro-batch: it must not touch state the
// caller's thread uses during the step.
using LossFn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;

struct StepOutput {
  torch::Tensor logits;  // (B, 2) float, detached, on the last stage's (or the model's) device
  torch::Tensor loss;    // () float, detached, unscaled, mean over the whole batch
};

class Placement {
 public:
  virtual ~Placement() = default;
  // Forward and backward of one batch: x (B, 3, H, W) float, normalised, on input_device();
  // y (B) int64 on any device. Every forward runs under the precision's autocast (on each thread
  // that runs a stage), the loss is computed on float logits outside it and passed through
  // precision.scale_loss before backward. Gradients accumulate into the parameters' .grad (the
  // caller zeroes them before and steps after); micro-batch losses are weighted by their share of
  // the batch, so the accumulated gradient is the full-batch mean loss's. The pipeline runs each
  // stage's backward on that stage's thread: gradient hooks fire there, once per micro-batch.
  virtual StepOutput forward_backward(const torch::Tensor& x, const torch::Tensor& y,
                                      const LossFn& loss_fn, const Precision& precision) = 0;
  // Inference: x (B, 3, H, W) -> (B, num_classes) logits, without autograd, the whole batch
  // through the stages on the calling thread (the model already in eval(); an AutocastGuard
  // there applies).
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // How often each parameter's gradient hook fires per step: 1, or micro_batches (pipeline).
  virtual int backward_passes_per_step() const = 0;
  virtual torch::Device input_device() const = 0;
  // Kind, stages (their units, device, measured costs) and memory per stage.
  virtual nlohmann::json describe() const = 0;
};

// Builds the placement. "one" leaves the model where it is. "naive" and "pipeline" time each unit
// of the model on example_input (B, 3, H, W) float, on the model's current device (stages.h),
// split it into cost-balanced stages and move each stage's parameters and buffers to its device:
// build the optimiser after this. Throws Error on a model that cannot be split, on more stages
// than units and on micro_batches > example_input.size(0).
std::unique_ptr<Placement> make_placement(const PlacementOptions& options,
                                          std::shared_ptr<models::ClassifierImpl> model,
                                          const torch::Tensor& example_input);

// The shape of one training batch: the example make_placement times the units on.
struct ExampleBatch {
  int64_t batch_size = 1;
  int image_size_px = 224;
  torch::Device device = torch::kCPU;
  bool channels_last = false;  // the trainer's input layout
};

// make_placement for training: the random example batch is made only when the model is split,
// and with `log` the split (describe()) is logged.
std::unique_ptr<Placement> make_placement(const PlacementOptions& options,
                                          std::shared_ptr<models::ClassifierImpl> model,
                                          const ExampleBatch& example, bool log);

// From the flags --placement, --stages, --micro-batches. Refuses, naming the valid choices: an
// unknown kind, stages given for "one", fewer than 2 stages for naive/pipeline, an unknown or
// absent device, CPU and CUDA stages mixed, micro_batches < 1.
PlacementOptions parse_placement_options(const std::string& kind, const std::string& stages,
                                         int micro_batches);

// Refuses stages of another device type than --device (the run's device): autocast, pinned
// batches and the loss scaler follow --device, so `--device cpu --stages cuda:0,cuda:1 --amp bf16`
// would autocast the CPU while the GPU stages ran fp32. Nothing to check for "one".
void check_stages_match_device(const PlacementOptions& options, const torch::Device& device);

}  // namespace forensight::parallel
