// Epoch orders and distributed shards. Everything here is deterministic and platform-independent:
// std::shuffle and std::uniform_int_distribution are implementation-defined, so they are not used.
#include "forensight/data/sampler.h"

#include <random>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform integer in [0, bound) by rejection (no modulo bias).
uint64_t bounded(std::mt19937_64& rng, uint64_t bound) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = rng();
  while (x >= limit);
  return x % bound;
}

void check_options(const SamplerOptions& options) {
  FS_CHECK(options.world_size >= 1, "world_size must be >= 1, got {}", options.world_size);
  FS_CHECK(options.rank >= 0 && options.rank < options.world_size,
           "rank must be in [0, world_size = {}), got {}", options.world_size, options.rank);
}

}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(bounded(rng, static_cast<uint64_t>(i + 1)));
    std::swap(order[i], order[j]);
  }
  return order;
}

int64_t samples_per_rank(int64_t size, const SamplerOptions& options) {
  check_options(options);
  if (size <= 0) return 0;
  return options.drop_last ? size / options.world_size
                           : (size + options.world_size - 1) / options.world_size;
}

std::vector<int64_t> sample_epoch(int64_t size, int64_t epoch, const SamplerOptions& options) {
  int64_t per_rank = samples_per_rank(size, options);
  if (per_rank == 0) return {};
  std::vector<int64_t> order;
  if (options.shuffle) {
    order = permutation(size, mix_seed(options.seed, static_cast<uint64_t>(epoch)));
  } else {
    order.resize(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) order[i] = i;
  }
  int64_t total = per_rank * options.world_size;
  // Pad by wrapping around (repeatedly, when the data is smaller than world_size).
  for (int64_t i = size; i < total; ++i) order.push_back(order[i % size]);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank));
  for (int64_t i = options.rank; i < total; i += options.world_size) mine.push_back(order[i]);
  return mine;
}

}  // namespace forensight::data
