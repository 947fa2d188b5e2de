// The distribution policy: one process, or data parallelism over a c10d process group. The trainer
// calls the same methods either way and never asks which it holds: with one process each is a
// no-op (or the identity), with N ranks the model starts from rank 0's weights, gradients are
// averaged in buckets overlapped with backward, and metrics are summed over ranks. On a GPU the
// parameters and gradients move through NCCL (the CUDA plug-in) and the CPU-side collectives
// (metrics, strings, barriers) through Gloo, both over the one rendezvous.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forensight/core/collective.h"
#include "forensight/parallel/gradient_reducer.h"
#include "forensight/parallel/process_group.h"
#include "forensight/parallel/rendezvous.h"
#include "forensight/parallel/run_fingerprint.h"

namespace forensight::models {
class ClassifierImpl;
}

namespace forensight::parallel {

// This rank's device from the --device flag: with several ranks and a plain "cuda", rank r takes
// cuda:local_rank; anything else is taken as written.
torch::Device rank_device(const std::string& device_flag, const RendezvousInfo& rendezvous);

struct DistributionOptions {
  RendezvousInfo rendezvous;          // from rendezvous_from_environment(); world 1 = one process
  double collective_timeout_s = 300;  // a hung or dead rank ends the job after this long
  GradientReducerOptions buckets;
  // This rank's device (the model's): cuda:N with several ranks adds NCCL for its tensors.
  torch::Device device = torch::kCPU;
};

class Distribution {
 public:
  explicit Distribution(const DistributionOptions& options);
  ~Distribution();
  Distribution(const Distribution&) = delete;
  Distribution& operator=(const Distribution&) = delete;

  int rank() const { return options_.rendezvous.rank; }
  int world_size() const { return options_.rendezvous.world_size; }
  bool is_main() const { return rank() == 0; }  // only the main rank logs and writes
  const RendezvousInfo& rendezvous() const { return options_.rendezvous; }
  torch::Device device() const { return options_.device; }
  // The process group, or null for one process.
  ProcessGroup* group() { return group_.get(); }
  // The in-place sum over the ranks that synchronised BatchNorm uses (--sync-batchnorm); null with
  // one process.
  std::shared_ptr<SumAcrossProcesses> batch_norm_ranks() { return batch_norm_ranks_; }

  // Right after the rendezvous, before anything is trained: every rank's fingerprint (called only
  // with several ranks) is all-gathered, and when any rank's config, model or data differs from
  // rank 0's, every rank throws the same Error naming those ranks and the first differences.
  void check_ranks_agree(const std::function<RunFingerprint()>& fingerprint);
  // Start of training: every rank takes rank 0's parameters and buffers (BatchNorm statistics),
  // then gradient hooks are registered on the trainable parameters. The model is on this rank's
  // device (CPU tensors go through Gloo, CUDA ones through NCCL).
  void attach(torch::nn::Module& model);
  // The sync phase, around the backward pass(es) of one step.
  void begin_backward(int backward_passes);
  GradientSyncStats finish_backward();

  // Sums over ranks (the value itself with one process).
  double sum(double value);
  std::vector<double> sum(const std::vector<double>& values);
  // Every rank's string, in rank order (a one-element list with one process).
  std::vector<std::string> gather_strings(const std::string& value);
  // Rank 0's answer to a yes/no question every rank asks of the shared run directory (is there a
  // checkpoint to resume, a saved split?), so that all ranks act alike even while rank 0 is
  // writing; one process: its own answer.
  bool main_rank_decides(bool local_answer);
  // The launcher restarted this group after a rank failed (--max-restarts).
  bool restarted() const { return options_.rendezvous.restart_count > 0; }

  // The trainer's phase-1 and record-phase questions, answered here so that it never asks how
  // many ranks there are.
  // --lr-scaling none|linear: the factor on the learning rate (linear: the world size).
  double learning_rate_factor(const std::string& lr_scaling) const;
  // --sync-batchnorm: BatchNorm statistics over every rank's batch (refused with a pipeline).
  void synchronize_batch_norm(models::ClassifierImpl& model, const std::string& model_name,
                              const std::string& placement);
  // Where to resume an epoch that `written_by` ranks checkpointed at their batch
  // `batch_in_epoch`: the same samples are consumed on this run's world size.
  int64_t resume_batch_in_epoch(int64_t batch_in_epoch, int written_by) const;
  // What a step's and an epoch's metrics record adds (nothing with one process).
  nlohmann::json step_record(const GradientSyncStats& sync) const;
  nlohmann::json epoch_record(double sync_exposed_seconds) const;
  void barrier();

 private:
  DistributionOptions options_;
  std::unique_ptr<ProcessGroup> group_;
  std::unique_ptr<GradientReducer> reducer_;
  std::shared_ptr<SumAcrossProcesses> batch_norm_ranks_;
};

}  // namespace forensight::parallel
