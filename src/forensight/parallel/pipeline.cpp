// The GPipe schedule over stage threads (pipeline.h).
#include "forensight/parallel/pipeline.h"

#include <ATen/Parallel.h>
#include <c10/core/StreamGuard.h>

#include <algorithm>
#include <exception>

#include "forensight/core/error.h"

namespace forensight::parallel {
namespace {

using JobGrid = std::vector<std::vector<std::shared_future<void>>>;  // [stage][micro-batch]

void wait_all(const JobGrid& jobs) {
  for (const auto& row : jobs)
    for (const auto& job : row)
      if (job.valid()) job.wait();
}

// Rethrows the first error in submission order: the job that failed first, not the dependants
// that rethrew its error.
void rethrow_first_error(const JobGrid& jobs) {
  for (const auto& row : jobs)
    for (const auto& job : row)
      if (job.valid()) job.get();
}

}  // namespace

PipelinePlacement::PipelinePlacement(std::shared_ptr<models::ClassifierImpl> model,
                                     std::vector<Stage> stages, int micro_batches,
                                     std::vector<int> stage_threads)
    : model_(std::move(model)), stages_(std::move(stages)), micro_batches_(micro_batches) {
  FS_CHECK(!stages_.empty(), "a pipeline needs at least one stage");
  FS_CHECK(micro_batches_ >= 1, "micro-batches must be >= 1, got {}", micro_batches_);
  const size_t num_stages = stages_.size();
  FS_CHECK(stage_threads.empty() || stage_threads.size() == num_stages,
           "{} stage thread counts given for {} stages", stage_threads.size(), num_stages);
  if (stage_threads.empty()) {
    // The calling thread's intra-op budget (--threads), split over the CPU stages; CUDA stages'
    // threads only launch kernels and keep LibTorch's default.
    const auto cpu_stages = static_cast<int>(std::count_if(
        stages_.begin(), stages_.end(), [](const Stage& stage) { return stage.device.is_cpu(); }));
    const int each = std::max(1, at::get_num_threads() / std::max(1, cpu_stages));
    for (const auto& stage : stages_) stage_threads.push_back(stage.device.is_cpu() ? each : 0);
  }
  for (int threads : stage_threads)
    FS_CHECK(threads >= 0, "stage intra-op threads must be >= 0 (0 = default), got {}", threads);
  boundary_bytes_.assign(num_stages, 0);
  for (const auto& stage : stages_) streams_.emplace_back(stage.device);
  for (size_t s = 0; s < num_stages; ++s)
    workers_.push_back(std::make_unique<StageWorker>(stage_threads[s]));
}

StepOutput PipelinePlacement::forward_backward(const torch::Tensor& x, const torch::Tensor& y,
                                               const LossFn& loss_fn, const Precision& precision) {
  // x: (B, 3, H, W) float, y: (B) int64
  const int64_t batch = x.size(0);
  FS_CHECK(y.dim() == 1 && y.size(0) == batch, "labels must be (B) = ({}), got {} rows", batch,
           y.dim() == 1 ? y.size(0) : -1);
  FS_CHECK(micro_batches_ <= batch,
           "a batch of {} images cannot be cut into {} micro-batches: use --micro-batches <= {}",
           batch, micro_batches_, batch);
  const size_t num_stages = stages_.size();
  const auto num_micro = static_cast<size_t>(micro_batches_);
  const size_t last = num_stages - 1;
  // Sizes differ by at most one row; each micro-batch's loss is weighted by its share of rows.
  const std::vector<torch::Tensor> xs = x.tensor_split(micro_batches_);  // M x (b_m, 3, H, W)
  const std::vector<torch::Tensor> ys = y.tensor_split(micro_batches_);  // M x (b_m)

  // Per (stage, micro-batch) state. A slot is written by its stage's thread; a neighbour stage
  // reads (and, once done with it, clears) it only after waiting for the job that wrote it.
  struct Slot {
    torch::Tensor input;       // (b_m, ...) received activation, a leaf that requires grad (s > 0)
    torch::Tensor output;      // (b_m, ...) the stage's output, with its autograd graph
    torch::Tensor input_grad;  // (b_m, ...) d loss / d input, handed back to stage s - 1
    // CUDA: recorded on the stage's stream after the work that wrote output (input_grad); the
    // receiving stage's stream waits on it. nullptr on the CPU.
    std::shared_ptr<c10::Event> output_ready, input_grad_ready;
  };
  std::vector<std::vector<Slot>> slots(num_stages, std::vector<Slot>(num_micro));
  std::vector<torch::Tensor> logits(num_micro);  // M x (b_m, 2) float, on the last stage
  std::vector<torch::Tensor> losses(num_micro);  // M x () mean over the micro-batch's rows
  JobGrid forward_done(num_stages, std::vector<std::shared_future<void>>(num_micro));
  JobGrid backward_done = forward_done;

  // CUDA: the stages' streams start after what the caller enqueued (the input, the last step).
  for (const auto& stream : streams_) stream.wait_for_current();

  // Forwards: each stage's queue gets micro-batches 0..M-1; stage s's job for m waits only for
  // stage s-1's job for m, so stage s works on m while stage s-1 works on m+1.
  for (size_t s = 0; s < num_stages; ++s) {
    for (size_t m = 0; m < num_micro; ++m) {
      // Each job holds its own copy of the future it waits for (one shared_future object must
      // not be used from two threads).
      std::shared_future<void> upstream =
          s > 0 ? forward_done[s - 1][m] : std::shared_future<void>();
      forward_done[s][m] = workers_[s]->submit([&, s, m, upstream] {
        const torch::Device device = stages_[s].device;
        const StageStream& stream = streams_[s];
        const c10::OptionalStreamGuard on_stage_stream(stream.stream());
        Slot& slot = slots[s][m];
        if (s == 0) {
          stream.record_use(xs[m]);
          slot.input = xs[m].to(device, /*non_blocking=*/true);
        } else {
          upstream.get();
          const Slot& sent = slots[s - 1][m];
          stream.wait(sent.output_ready);
          stream.record_use(sent.output);
          slot.input = sent.output.detach().to(device, /*non_blocking=*/true);
          slot.input.requires_grad_(true);
        }
        {
          AutocastGuard autocast(precision);  // autocast is thread-local: per stage thread
          slot.output = stages_[s].forward(slot.input);
        }
        if (s == last) {
          logits[m] = slot.output.to(torch::kFloat);  // (b_m, 2)
          losses[m] = loss_fn(logits[m], ys[m].to(device, /*non_blocking=*/true));
        }
        slot.output_ready = stream.record();
      });
    }
  }
  // Backwards, micro-batches in reverse: the last stage starts from its weighted, scaled loss;
  // stage s continues from the gradient stage s+1 computed for its input.
  for (size_t m = num_micro; m-- > 0;) {
    for (size_t s = num_stages; s-- > 0;) {
      std::shared_future<void> downstream =
          s < last ? backward_done[s + 1][m] : std::shared_future<void>();
      backward_done[s][m] = workers_[s]->submit([&, s, m, downstream] {
        const StageStream& stream = streams_[s];
        const c10::OptionalStreamGuard on_stage_stream(stream.stream());
        Slot& slot = slots[s][m];
        if (s == last) {
          const double share = static_cast<double>(xs[m].size(0)) / static_cast<double>(batch);
          precision.scale_loss(losses[m] * share).backward();
        } else {
          downstream.get();
          Slot& received = slots[s + 1][m];
          stream.wait(received.input_grad_ready);
          stream.record_use(received.input_grad);
          torch::Tensor grad = received.input_grad.to(stages_[s].device, /*non_blocking=*/true);
          torch::autograd::backward({slot.output}, {grad});
          received.input_grad = torch::Tensor();
        }
        if (s > 0) slot.input_grad = slot.input.grad();
        slot.output = torch::Tensor();
        slot.input_grad_ready = stream.record();
      });
    }
  }
  // What each stage holds of its received inputs for backward once every forward is done (the
  // GPipe peak; the inputs are released when this frame ends).
  wait_all(forward_done);
  for (size_t s = 0; s < num_stages; ++s) {
    int64_t bytes = 0;
    for (const auto& slot : slots[s])
      if (slot.input.defined()) bytes += slot.input.numel() * slot.input.element_size();
    boundary_bytes_[s] = bytes;
  }
  // Every job references this frame's locals: wait for all of them before anything is thrown.
  wait_all(backward_done);
  rethrow_first_error(forward_done);
  rethrow_first_error(backward_done);
  // CUDA: the caller's streams wait for the stages' before it reads the logits, the losses and
  // the gradients (the optimiser step).
  for (const auto& stream : streams_) stream.make_current_wait();

  StepOutput out;
  std::vector<torch::Tensor> detached_logits;
  torch::Tensor loss = torch::zeros({}, logits.front().options());
  for (size_t m = 0; m < num_micro; ++m) {
    detached_logits.push_back(logits[m].detach());
    loss += losses[m].detach() * (static_cast<double>(xs[m].size(0)) / static_cast<double>(batch));
  }
  out.logits = torch::cat(detached_logits);  // (B, 2)
  out.loss = loss;                           // ()
  return out;
}

torch::Tensor PipelinePlacement::forward(const torch::Tensor& x) {
  // x: (B, 3, H, W) float -> (B, num_classes)
  torch::NoGradGuard no_grad;
  torch::Tensor h = x;
  for (const auto& stage : stages_) h = stage.forward(h.to(stage.device, /*non_blocking=*/true));
  return h;
}

nlohmann::json PipelinePlacement::describe() const {
  nlohmann::json stages = nlohmann::json::array();
  for (size_t s = 0; s < stages_.size(); ++s) {
    nlohmann::json stage = describe_stage(stages_[s]);
    stage["intra_op_threads"] = workers_[s]->intra_op_threads();
    if (const auto stream = streams_[s].stream()) stage["cuda_stream"] = stream->id();
    stage["boundary_activation_bytes"] = boundary_bytes_[s];
    stages.push_back(stage);
  }
  return {{"kind", "pipeline"}, {"micro_batches", micro_batches_}, {"stages", stages}};
}

}  // namespace forensight::parallel
