// Data-parallel gradient averaging: gradients gathered into flat buckets in reverse registration
// order (roughly the order backward produces them), each bucket all-reduced asynchronously as soon
// as its last gradient arrives, so communication overlaps the rest of the backward pass — the
// scheme of PyTorch's DDP Reducer (Li et al., VLDB 2020), written here so that its behaviour and
// its cost are ours to measure. The first bucket is small so that communication starts early.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "forensight/parallel/process_group.h"

namespace forensight::parallel {

struct GradientReducerOptions {
  int64_t first_bucket_bytes = 1 << 20;  // the first bucket to launch (the last layers)
  int64_t bucket_bytes = 25 << 20;       // every later bucket
  bool overlap = true;  // launch buckets from autograd hooks; false = all after backward
};

// What one step's synchronisation cost: `exposed_seconds` is the time finish_step() waited, the
// part of communication the backward pass did not hide.
struct GradientSyncStats {
  int64_t buckets = 0;
  int64_t bytes = 0;
  double exposed_seconds = 0.0;
};

class GradientReducer {
 public:
  // parameters: those that train (requires_grad), all on one device: float32 CPU tensors (Gloo),
  // or CUDA tensors on the group's GPU (NCCL) of one dtype, float32, bfloat16 or float16 (the
  // buckets take it: bf16/fp16 gradients are summed in that precision, as DDP's are). The group
  // outlives this. Registers a gradient hook on each parameter.
  GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                  const GradientReducerOptions& options = {});
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before the step's backward passes: each parameter's gradient will arrive `backward_passes`
  // times (1, or the number of micro-batches of a pipeline); its bucket launches after the last.
  void begin_step(int backward_passes);
  // After backward: launches the buckets still waiting (parameters that got no gradient count as
  // zero), waits for every bucket, and sets each parameter's .grad to the mean over ranks.
  GradientSyncStats finish_step();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  // Parameter positions of each bucket, in launch order (for tests and the log).
  std::vector<std::vector<int64_t>> bucket_layout() const;

 private:
  struct Slot {
    int64_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer, in elements
    int64_t numel = 0;
    int arrivals = 0;  // gradients received this step
  };
  struct Bucket {
    torch::Tensor flat;  // (numel) on the parameters' device and dtype: gradients, then their sum
    std::vector<int64_t> params;  // positions in parameters_
    int64_t pending = 0;          // gradients still to arrive this step
    PendingCollective work;
    bool launched = false;
  };
  void on_gradient(int64_t index, const torch::Tensor& grad);
  void launch(Bucket& bucket);

  ProcessGroup& group_;
  GradientReducerOptions options_;
  std::vector<torch::Tensor> parameters_;
  torch::Device device_ = torch::kCPU;         // of every parameter and bucket
  torch::ScalarType dtype_ = torch::kFloat32;  // likewise
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  int backward_passes_ = 1;
  bool in_step_ = false;
  std::mutex mutex_;  // pipeline stages run backward on their own threads
};

}  // namespace forensight::parallel
