// The epoch sampler: which dataset positions a rank visits in an epoch, and in what order. A pure
// function of (size, seed, epoch, rank, world_size), with its own shuffle and bounded random
// integers so the order is the same with any standard library — runs reproduce across machines.
#pragma once
#include <cstdint>
#include <vector>

namespace forensight::data {

struct SamplerOptions {
  bool shuffle = true;     // permute each epoch from (seed, epoch); false = 0, 1, 2, ...
  bool drop_last = false;  // truncate to a multiple of world_size instead of padding by wrapping
  uint64_t seed = 0;       // permutation seed
  int rank = 0;            // this process's shard, in [0, world_size)
  int world_size = 1;      // number of disjoint, equal-length shards, >= 1
};

// Samples each rank visits per epoch: ceil(size / world_size), or floor(...) with drop_last.
int64_t samples_per_rank(int64_t size, const SamplerOptions& options);

// Positions in [0, size) that `options.rank` visits in `epoch`, in order. Like PyTorch's
// DistributedSampler: the (shuffled) order is padded by wrapping around to a multiple of
// world_size (or truncated with drop_last), and rank r takes every world_size-th position from r.
// Throws Error for a bad rank or world_size.
std::vector<int64_t> sample_epoch(int64_t size, int64_t epoch, const SamplerOptions& options);

// Mixes values into one well-spread 64-bit seed (SplitMix64 finaliser over each part); the loader
// seeds each sample's random transform with mix_seed(seed, epoch, sample index).
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0);

// A permutation of [0, n) from `seed` (Fisher-Yates over std::mt19937_64, whose output sequence the
// standard fixes, with unbiased bounded integers).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace forensight::data
