// A c10d process group for data-parallel training: rendezvous through c10d's TCPStore on rank 0's
// MASTER_ADDR:MASTER_PORT, collectives through Gloo (CPU tensors) and, when the rank has a GPU,
// through NCCL for CUDA tensors (from the CUDA plug-in: parallel/nccl_loader.h). The c10d and Gloo
// headers stay inside process_group.cpp; callers see plain tensors and handles, and each tensor's
// device picks the backend. Every collective has a timeout, so a dead or hung peer ends this
// process with an Error naming the operation instead of hanging the job; on the CPU (Gloo) the
// Error also names the peers that never reached the collective (a hung rank), read from the store.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "forensight/parallel/rendezvous.h"

namespace forensight::parallel {

struct ProcessGroupOptions {
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};  // store and collective timeout
  int gloo_threads = 2;  // Gloo's worker threads (each runs one collective at a time)
  // This rank's device. cuda:N adds an NCCL backend on that GPU (over the same store, under its
  // own key prefix) for CUDA tensors; CPU tensors (metrics, strings, barriers) stay on Gloo.
  torch::Device device = torch::kCPU;
};

// An asynchronous collective in flight; wait() blocks until it is done (or its timeout, counted
// from the issue, ends: then it throws Error naming the ranks that never reached it). Destroying an
// unwaited handle waits for it (the tensor must outlive the work). On CUDA tensors (NCCL) wait() is
// stream-ordered, as DDP's is: the calling thread's current CUDA stream waits for the collective
// and the host goes on; NCCL's watchdog enforces the timeout (it aborts the communicator and ends
// the process, logging the collective and the rank).
class PendingCollective {
 public:
  struct Impl;
  PendingCollective() = default;
  explicit PendingCollective(std::shared_ptr<Impl> impl);
  PendingCollective(PendingCollective&&) noexcept = default;
  PendingCollective& operator=(PendingCollective&&) noexcept = default;
  ~PendingCollective();
  void wait();
  bool valid() const { return impl_ != nullptr; }

 private:
  std::shared_ptr<Impl> impl_;
};

class ProcessGroup {
 public:
  // Connects to (rank 0: starts) the TCPStore and builds the Gloo group. Blocks until every rank
  // has joined or the timeout ends (Error naming the master address and how many joined).
  ProcessGroup(const RendezvousInfo& info, const ProcessGroupOptions& options = {});
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return info_.rank; }
  int size() const { return info_.world_size; }
  const RendezvousInfo& info() const { return info_; }

  // The device given in the options; a CUDA one means the group also holds an NCCL backend.
  torch::Device device() const { return options_.device; }
  bool has_nccl() const;

  // In-place sum over ranks of a contiguous tensor: a CPU one through Gloo, one on this rank's
  // CUDA device through NCCL.
  PendingCollective allreduce_sum_async(torch::Tensor& tensor);
  void allreduce_sum(torch::Tensor& tensor);
  // Every rank's tensors take root's values (same shapes and dtypes on every rank); contiguous,
  // each on the CPU (Gloo) or on this rank's CUDA device (NCCL).
  void broadcast(std::vector<torch::Tensor>& tensors, int root = 0);
  // Every rank's equally shaped CPU tensor, in rank order.
  std::vector<torch::Tensor> allgather(const torch::Tensor& tensor);
  // Every rank's string (any lengths), in rank order: metrics, errors, sample ids.
  std::vector<std::string> allgather_strings(const std::string& value);
  void barrier();

 private:
  struct Impl;
  RendezvousInfo info_;
  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace forensight::parallel
