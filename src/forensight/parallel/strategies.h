// The three parallel policies (distribution.h, precision.h, placement.h) made from the flags a
// training run gives them. Parsing, cross-checks between policies and the choices a flag makes
// (buckets, sync-BatchNorm, the device the stages must share) live here, so that the trainer only
// builds the policies and calls each at its phase (../shared/ARCHITECTURE.md), never branching on
// which one it holds.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "forensight/models/classifier.h"
#include "forensight/parallel/distribution.h"
#include "forensight/parallel/placement.h"
#include "forensight/parallel/precision.h"

namespace forensight::parallel {

// The flags of `forensight train` that choose and tune the policies (train/train_options.h has
// each one's meaning and default).
struct StrategyFlags {
  std::string device = "cpu";         // --device: cpu, cuda or cuda:N (a rank's own under DDP)
  double collective_timeout_s = 300;  // --collective-timeout-s
  bool ddp_overlap = true;            // --ddp-overlap / --no-ddp-overlap
  double ddp_bucket_mb = 25;          // --ddp-bucket-mb
  bool sync_batchnorm = false;        // --sync-batchnorm
  std::string amp = "off";            // --amp: off, bf16, fp16
  std::string placement = "one";      // --placement: one, naive, pipeline
  std::string stages;                 // --stages: cpu,cpu or cuda:0,cuda:1
  int micro_batches = 4;              // --micro-batches
};

// This process's rank (from torchrun's, Slurm's or the launcher's environment), its device and
// the gradient buckets. Resolving the device opens the CUDA libraries when it names a GPU: call
// this before anything seeds or asks LibTorch about CUDA (core/cuda_runtime.h).
DistributionOptions make_distribution_options(const StrategyFlags& flags);

PrecisionOptions make_precision_options(const StrategyFlags& flags, const torch::Device& device);

// The model's placement for training: parses --placement/--stages/--micro-batches, refuses stages
// of another device type than the run's, synchronises BatchNorm over the ranks when asked (which
// the placement's stage threads must not then reorder: refused for pipeline), and splits the
// model, timing the split on `example`, with `log` on the main rank.
std::unique_ptr<Placement> make_training_placement(const StrategyFlags& flags,
                                                   std::shared_ptr<models::ClassifierImpl> model,
                                                   const std::string& model_name,
                                                   const ExampleBatch& example,
                                                   Distribution& distribution, bool log);

}  // namespace forensight::parallel
