// GPipe (Huang et al. 2019, arXiv:1811.06965): the batch is cut into M micro-batches; stage s
// runs the forward of micro-batch m while stage s+1 runs m-1's, then all backwards in reverse, and
// the parameters' gradients accumulate over the micro-batches for one optimiser step.
//
// Each stage runs on its own persistent thread (stage_worker.h), forwards and backwards alike, so
// on a CPU the stages overlap on separate cores with their own intra-op thread budgets. Stage
// boundaries are cut in autograd: the receiving stage takes its input as
// detach().requires_grad_(), and its backward hands input.grad() back to the sending stage, which
// continues its own backward from there. Activations cross devices with .to(device, non_blocking).
//
// CUDA: each stage enqueues on a stream of its own (stage_stream.h), so two stages on one GPU
// overlap as two on different GPUs do. A stage's stream first waits for the caller's current
// stream (the step's input, the last optimiser step); each hand-over, forward or backward, waits
// on an event the sending stage recorded after enqueuing the work that wrote the tensor; and at
// the end the caller's current streams wait for every stage's, before the caller reads the
// outputs and the gradients. Autograd runs each backward op on the stream of its forward op.
//
// BatchNorm under micro-batches: each micro-batch is normalised with its own statistics (as in
// GPipe and torch.distributed.pipelining) and the running statistics take one momentum update per
// micro-batch, M per step. With M = 1 it is the one-device step exactly.
#pragma once
#include <memory>
#include <vector>

#include "forensight/parallel/placement.h"
#include "forensight/parallel/stage_stream.h"
#include "forensight/parallel/stage_worker.h"
#include "forensight/parallel/stages.h"

namespace forensight::parallel {

class PipelinePlacement : public Placement {
 public:
  // stages from make_stages (units already on their devices); stage_threads: intra-op threads of
  // each CPU stage's thread (empty = the calling thread's count split evenly over CPU stages).
  PipelinePlacement(std::shared_ptr<models::ClassifierImpl> model, std::vector<Stage> stages,
                    int micro_batches, std::vector<int> stage_threads);

  StepOutput forward_backward(const torch::Tensor& x, const torch::Tensor& y, const LossFn& loss_fn,
                              const Precision& precision) override;
  torch::Tensor forward(const torch::Tensor& x) override;
  int backward_passes_per_step() const override { return micro_batches_; }
  torch::Device input_device() const override { return stages_.front().device; }
  nlohmann::json describe() const override;

 private:
  std::shared_ptr<models::ClassifierImpl> model_;  // the stages' units borrow it
  std::vector<Stage> stages_;
  std::vector<StageStream> streams_;  // per stage: its CUDA stream, or none on the CPU
  int micro_batches_;
  std::vector<int64_t> boundary_bytes_;  // per stage: inputs it kept for backward, last step
  // Last member: destroyed (joined) first, before the stages their jobs use.
  std::vector<std::unique_ptr<StageWorker>> workers_;
};

}  // namespace forensight::parallel
