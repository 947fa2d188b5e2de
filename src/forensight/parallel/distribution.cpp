#include "forensight/parallel/distribution.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/models/classifier.h"

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

torch::Device rank_device(const std::string& device_flag, const RendezvousInfo& rendezvous) {
  const torch::Device device = parse_device(device_flag);  // refuses a bad flag by name
  if (device_flag == "cuda" && rendezvous.world_size > 1)
    return parse_device(fmt::format("cuda:{}", rendezvous.local_rank));
  return device;
}

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

void Distribution::check_ranks_agree(const std::function<RunFingerprint()>& fingerprint) {
  if (!group_) return;  // one process agrees with itself: nothing to compute
  Timer timer;
  const std::vector<std::string> texts = group_->allgather_strings(fingerprint().to_string());
  std::vector<RunFingerprint> by_rank;
  for (int r = 0; r < world_size(); ++r)
    by_rank.push_back(RunFingerprint::from_string(texts[r], r));
  const std::vector<std::string> differences = fingerprint_differences(by_rank);
  FS_CHECK(differences.empty(),
           "the {} ranks are not running the same job: {}. Every rank stops here: give every rank "
           "the same options (flags and config file), --init file and dataset",
           world_size(), fmt::join(differences, "; "));
  spdlog::info("the {} ranks agree on their config, model and data (checked in {:.2f} s)",
               world_size(), timer.seconds());
}

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

bool Distribution::main_rank_decides(bool local_answer) {
  return gather_strings(local_answer ? "1" : "0").front() == "1";
}

void Distribution::barrier() {
  if (group_) group_->barrier();
}

double Distribution::learning_rate_factor(const std::string& lr_scaling) const {
  FS_CHECK(lr_scaling == "none" || lr_scaling == "linear",
           "unknown --lr-scaling '{}': valid choices are none, linear", lr_scaling);
  return lr_scaling == "linear" ? world_size() : 1.0;
}

void Distribution::synchronize_batch_norm(models::ClassifierImpl& model,
                                          const std::string& model_name,
                                          const std::string& placement) {
  // Stage threads would issue their BatchNorm all-reduces in an order that differs between
  // ranks, and collectives must come in the same order on every rank.
  FS_CHECK(placement != "pipeline",
           "--sync-batchnorm cannot be combined with --placement pipeline: its stage threads "
           "would issue collectives in a different order on each rank; use --placement one or "
           "naive, or drop --sync-batchnorm");
  if (world_size() == 1)
    spdlog::info("--sync-batchnorm with one process: nothing to synchronise");
  else if (!model.synchronize_batch_norm(batch_norm_ranks()))
    spdlog::info("--sync-batchnorm: {} has no BatchNorm", model_name);
}

int64_t Distribution::resume_batch_in_epoch(int64_t batch_in_epoch, int written_by) const {
  if (written_by == world_size()) return batch_in_epoch;
  // The epoch's samples are one permutation dealt round-robin over the ranks, so k global
  // batches of W ranks consumed its first k * W * B positions; on M ranks that is
  // floor(k * W / M) batches (the few samples of a partial batch are seen again).
  const int64_t resumed = batch_in_epoch * written_by / world_size();
  spdlog::info(
      "the checkpoint was written by {} ranks, this run has {}: resuming the epoch at its "
      "batch {}",
      written_by, world_size(), resumed);
  return resumed;
}

nlohmann::json Distribution::step_record(const GradientSyncStats& sync) const {
  if (world_size() == 1) return nlohmann::json::object();
  return {{"sync_exposed_s", sync.exposed_seconds}};
}

nlohmann::json Distribution::epoch_record(double sync_exposed_seconds) const {
  if (world_size() == 1) return nlohmann::json::object();
  return {{"world_size", world_size()}, {"sync_exposed_s", sync_exposed_seconds}};
}

}  // namespace forensight::parallel
