// Inference sharded over the ranks of a distributed job: each rank runs its shard (the loader's
// distributed sampler, which pads the last round by wrapping around), then every rank receives the
// merged result — each sample once, in the order one process would have produced, with the same
// mean loss — so the metrics and the report are identical to the single-process ones.
#pragma once
#include <cstdint>
#include <vector>

#include "forensight/eval/inference.h"
#include "forensight/parallel/distribution.h"

namespace forensight::eval {

// order: the dataset indices in the unsharded loader's order (the split's list). Samples that no
// rank delivered (unreadable files) count as skipped. With one process: `local` as it is.
InferenceResult gather_inference(const InferenceResult& local, const std::vector<int64_t>& order,
                                 parallel::Distribution& distribution);

}  // namespace forensight::eval
