// The epoch sampler: deterministic permutations and DistributedSampler-style shards.
#include "forensight/data/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

TEST(SamplerTest, SameSeedAndEpochGiveTheSameOrder) {
  SamplerOptions o;
  o.seed = 7;
  EXPECT_EQ(sample_epoch(100, 3, o), sample_epoch(100, 3, o));
  EXPECT_NE(sample_epoch(100, 3, o), sample_epoch(100, 4, o));
  auto sorted = sample_epoch(100, 3, o);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(SamplerTest, NoShuffleIsIdentity) {
  SamplerOptions o;
  o.shuffle = false;
  EXPECT_EQ(sample_epoch(5, 9, o), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(SamplerTest, ShardsAreDisjointEqualAndCompleteWhenPadded) {
  for (int64_t size : {0, 1, 5, 10, 11, 13}) {
    for (int world : {1, 2, 3, 4}) {
      SamplerOptions o;
      o.seed = 3;
      o.world_size = world;
      std::map<int64_t, int> seen;
      int64_t expected_len = (size + world - 1) / world;
      for (int r = 0; r < world; ++r) {
        o.rank = r;
        auto mine = sample_epoch(size, 1, o);
        EXPECT_EQ(static_cast<int64_t>(mine.size()), expected_len) << size << " " << world;
        for (int64_t i : mine) ++seen[i];
      }
      // Every sample appears; only the wrap-around padding repeats any.
      EXPECT_EQ(static_cast<int64_t>(seen.size()), size) << size << " " << world;
      int64_t repeats = 0;
      for (auto& [i, n] : seen) repeats += n - 1;
      EXPECT_EQ(repeats, size == 0 ? 0 : expected_len * world - size) << size << " " << world;
    }
  }
}

TEST(SamplerTest, DropLastTruncatesToDisjointShards) {
  SamplerOptions o;
  o.drop_last = true;
  o.world_size = 3;
  std::set<int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    o.rank = r;
    auto mine = sample_epoch(11, 0, o);
    EXPECT_EQ(mine.size(), 3u);
    for (int64_t i : mine) EXPECT_TRUE(seen.insert(i).second) << "index " << i << " repeated";
  }
  EXPECT_EQ(seen.size(), 9u);
}

TEST(SamplerTest, ShardsFollowTheSharedPermutation) {
  SamplerOptions whole;
  whole.seed = 11;
  auto all = sample_epoch(12, 2, whole);
  SamplerOptions o = whole;
  o.world_size = 3;
  o.rank = 1;
  auto mine = sample_epoch(12, 2, o);
  EXPECT_EQ(mine, (std::vector<int64_t>{all[1], all[4], all[7], all[10]}));
}

TEST(SamplerTest, BadRankIsAnError) {
  SamplerOptions o;
  o.world_size = 2;
  o.rank = 2;
  EXPECT_THROW(sample_epoch(10, 0, o), Error);
  o.world_size = 0;
  o.rank = 0;
  EXPECT_THROW(sample_epoch(10, 0, o), Error);
}

}  // namespace
}  // namespace forensight::data
