// The policies from a training run's flags (strategies.h).
#include "forensight/parallel/strategies.h"

#include <algorithm>

#include "forensight/core/error.h"
#include "forensight/parallel/rendezvous.h"

namespace forensight::parallel {

DistributionOptions make_distribution_options(const StrategyFlags& flags) {
  DistributionOptions d;
  d.rendezvous = rendezvous_from_environment();
  // The rank's device is known before its group is made: on a GPU the group adds NCCL there.
  d.device = rank_device(flags.device, d.rendezvous);
  d.collective_timeout_s = flags.collective_timeout_s;
  d.buckets.overlap = flags.ddp_overlap;
  FS_CHECK(flags.ddp_bucket_mb > 0, "--ddp-bucket-mb must be > 0, got {}", flags.ddp_bucket_mb);
  d.buckets.bucket_bytes = static_cast<int64_t>(flags.ddp_bucket_mb * (1 << 20));
  d.buckets.first_bucket_bytes =
      std::min<int64_t>(d.buckets.first_bucket_bytes, d.buckets.bucket_bytes);
  return d;
}

PrecisionOptions make_precision_options(const StrategyFlags& flags, const torch::Device& device) {
  return PrecisionOptions{.mode = parse_amp_mode(flags.amp), .device = device};
}

std::unique_ptr<Placement> make_training_placement(const StrategyFlags& flags,
                                                   std::shared_ptr<models::ClassifierImpl> model,
                                                   const std::string& model_name,
                                                   const ExampleBatch& example,
                                                   Distribution& distribution, bool log) {
  const PlacementOptions options =
      parse_placement_options(flags.placement, flags.stages, flags.micro_batches);
  check_stages_match_device(options, example.device);
  if (flags.sync_batchnorm)
    distribution.synchronize_batch_norm(*model, model_name, flags.placement);
  return make_placement(options, std::move(model), example, log);
}

}  // namespace forensight::parallel
