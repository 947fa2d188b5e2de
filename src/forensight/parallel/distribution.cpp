#include "forensight/parallel/distribution.h"

#include <spdlog/spdlog.h>

#include "forensight/core/error.h"

namespace forensight::parallel {
namespace {

// The process group as the in-place sum models/ asks for (synchronised BatchNorm).
class GroupSum : public SumAcrossProcesses {
 public:
  explicit GroupSum(ProcessGroup& group) : group_(group) {}
  void allreduce_sum(torch::Tensor& tensor) override {
    torch::Tensor flat = tensor.contiguous();
    group_.allreduce_sum(flat);
    if (!flat.is_same(tensor)) tensor.copy_(flat);
  }
  int world_size() const override { return group_.size(); }

 private:
  ProcessGroup& group_;
};

}  // namespace

Distribution::Distribution(const DistributionOptions& options) : options_(options) {
  FS_CHECK(options.collective_timeout_s > 0, "collective timeout must be > 0 s, got {}",
           options.collective_timeout_s);
  if (!options.rendezvous.distributed()) return;
  ProcessGroupOptions group_options;
  group_options.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(options.collective_timeout_s * 1000.0));
  group_options.device = options.device;
  group_ = std::make_unique<ProcessGroup>(options.rendezvous, group_options);
  batch_norm_ranks_ = std::make_shared<GroupSum>(*group_);
  spdlog::info("rank {} of {} joined at {}:{} (local rank {} of {}, {}; {})", rank(), world_size(),
               options.rendezvous.master_addr, options.rendezvous.master_port,
               options.rendezvous.local_rank, options.rendezvous.local_world_size,
               options.rendezvous.source,
               group_->has_nccl() ? fmt::format("NCCL on {} and Gloo", options.device.str())
                                  : std::string("Gloo"));
}

Distribution::~Distribution() = default;

void Distribution::attach(torch::nn::Module& model) {
  if (!group_) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const auto& p : model.parameters()) state.push_back(p);
  for (const auto& b : model.buffers()) state.push_back(b);
  // Gloo and NCCL take contiguous tensors: broadcast a contiguous copy of a channels-last weight
  // and copy it back (a no-op copy for the others). Each tensor's device picks the backend.
  for (auto& t : state) {
    torch::Tensor flat = t.contiguous();
    std::vector<torch::Tensor> one{flat};
    group_->broadcast(one, /*root=*/0);
    if (!flat.is_same(t)) t.copy_(flat);
  }
  std::vector<torch::Tensor> trainable;
  for (const auto& p : model.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  reducer_ = std::make_unique<GradientReducer>(*group_, trainable, options_.buckets);
  spdlog::info("data parallel: {} parameters in {} gradient buckets ({} overlap)", trainable.size(),
               reducer_->bucket_count(), options_.buckets.overlap ? "with" : "without");
}

void Distribution::begin_backward(int backward_passes) {
  if (reducer_) reducer_->begin_step(backward_passes);
}

GradientSyncStats Distribution::finish_backward() {
  return reducer_ ? reducer_->finish_step() : GradientSyncStats{};
}

double Distribution::sum(double value) {
  return sum(std::vector<double>{value}).front();
}

std::vector<double> Distribution::sum(const std::vector<double>& values) {
  if (!group_ || values.empty()) return values;
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  group_->allreduce_sum(t);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::vector<std::string> Distribution::gather_strings(const std::string& value) {
  if (!group_) return {value};
  return group_->allgather_strings(value);
}

void Distribution::barrier() {
  if (group_) group_->barrier();
}

}  // namespace forensight::parallel
