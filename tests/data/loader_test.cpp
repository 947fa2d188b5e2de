// The parallel loader: identical output for any worker count, bad files skipped and counted, the
// decoded cache equal to decoding, resume by skipping, shards, and no hang on early destruction.
#include "forensight/data/loader.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "forensight/core/error.h"
#include "forensight/data/decoded_cache.h"
#include "test_files.h"

namespace forensight::data {
namespace {
using test_files::ScratchDir;

// 23 tiny JPEGs of varied sizes in 0_real/1_fake (23: batches of 5 leave a partial one).
Dataset make_images(const ScratchDir& dir, int count = 23) {
  for (int i = 0; i < count; ++i)
    test_files::write_jpeg(dir / fmt::format("{}/img{:03d}.jpg", i % 3 ? "0_real" : "1_fake", i),
                           24 + (i * 7) % 40, 20 + (i * 5) % 30, i);
  return load_dataset(dir.path().string());
}

TransformOptions small_transform(double hflip_prob = 0.5) {
  TransformOptions t;
  t.image_size_px = 16;
  t.hflip_prob = hflip_prob;
  return t;
}

struct Epoch {
  std::vector<torch::Tensor> images, labels, indices;
  EpochStats stats;
};

Epoch run_epoch(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  Epoch e;
  loader.start_epoch(epoch, skip);
  while (auto batch = loader.next()) {
    e.images.push_back(batch->images);
    e.labels.push_back(batch->labels);
    e.indices.push_back(batch->indices);
  }
  e.stats = loader.epoch_stats();
  return e;
}

void expect_same(const Epoch& a, const Epoch& b, const std::string& what) {
  ASSERT_EQ(a.images.size(), b.images.size()) << what;
  for (size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.images[i], b.images[i])) << what << " batch " << i;
    EXPECT_TRUE(torch::equal(a.labels[i], b.labels[i])) << what << " batch " << i;
    EXPECT_TRUE(torch::equal(a.indices[i], b.indices[i])) << what << " batch " << i;
  }
}

TEST(LoaderTest, BatchesAreContiguousUint8WithMatchingLabels) {
  ScratchDir dir("loader-shape");
  Dataset d = make_images(dir);
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 2;
  DataLoader loader(d, {}, small_transform(), o);
  EXPECT_EQ(loader.batches_per_epoch(), 5);
  Epoch e = run_epoch(loader, 0);
  ASSERT_EQ(e.images.size(), 5u);
  std::set<int64_t> seen;
  for (size_t b = 0; b < e.images.size(); ++b) {
    const auto& x = e.images[b];
    EXPECT_EQ(x.scalar_type(), torch::kUInt8);
    EXPECT_TRUE(x.is_contiguous());
    EXPECT_EQ(x.size(0), b < 4 ? 5 : 3);
    EXPECT_EQ(x.sizes().slice(1), (std::vector<int64_t>{3, 16, 16}));
    EXPECT_EQ(e.labels[b].scalar_type(), torch::kInt64);
    for (int64_t i = 0; i < x.size(0); ++i) {
      int64_t index = e.indices[b][i].item<int64_t>();
      EXPECT_EQ(e.labels[b][i].item<int64_t>(), d.samples[index].label);
      seen.insert(index);
    }
  }
  EXPECT_EQ(seen.size(), d.size());  // each sample exactly once per epoch
  EXPECT_EQ(e.stats.samples, 23);
  EXPECT_EQ(e.stats.skipped, 0);
}

TEST(LoaderTest, OutputIsIdenticalForZeroOneAndThreeWorkers) {
  ScratchDir dir("loader-workers");
  Dataset d = make_images(dir);
  std::vector<Epoch> epochs;
  for (int workers : {0, 1, 3}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = workers;
    o.prefetch_batches = 2;
    o.seed = 17;
    DataLoader loader(d, {}, small_transform(), o);
    Epoch e0 = run_epoch(loader, 0);
    Epoch e1 = run_epoch(loader, 1);
    for (size_t b = 0; b < e1.images.size(); ++b) e0.images.push_back(e1.images[b]);
    for (size_t b = 0; b < e1.labels.size(); ++b) e0.labels.push_back(e1.labels[b]);
    for (size_t b = 0; b < e1.indices.size(); ++b) e0.indices.push_back(e1.indices[b]);
    epochs.push_back(e0);
  }
  expect_same(epochs[0], epochs[1], "0 vs 1 workers");
  expect_same(epochs[0], epochs[2], "0 vs 3 workers");
  // Epochs are reshuffled: the second epoch's order differs from the first's.
  EXPECT_FALSE(torch::equal(epochs[0].indices[0], epochs[0].indices[6]));
}

TEST(LoaderTest, CorruptFileIsSkippedAndCountedWithoutHanging) {
  ScratchDir dir("loader-corrupt");
  Dataset d = make_images(dir, 10);
  test_files::write_text(dir / "1_fake/broken.jpg", "\xFF\xD8\xFF not really a jpeg");
  test_files::write_text(dir / "0_real/empty.png", "");
  d = load_dataset(dir.path().string());
  ASSERT_EQ(d.size(), 12u);
  for (int workers : {0, 2}) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = workers;
    DataLoader loader(d, {}, small_transform(), o);
    Epoch e = run_epoch(loader, 0);
    EXPECT_EQ(e.stats.skipped, 2) << workers << " workers";
    EXPECT_EQ(e.stats.samples, 10) << workers << " workers";
    int64_t delivered = 0;
    for (const auto& x : e.images) delivered += x.size(0);
    EXPECT_EQ(delivered, 10);
    // Counted again in a later epoch (logged only once).
    EXPECT_EQ(run_epoch(loader, 1).stats.skipped, 2);
  }
}

TEST(LoaderTest, EpochOfOnlyBadFilesIsAnError) {
  ScratchDir dir("loader-allbad");
  test_files::write_text(dir / "0_real/a.jpg", "junk");
  test_files::write_text(dir / "1_fake/b.jpg", "junk");
  Dataset d = load_dataset(dir.path().string());
  LoaderOptions o;
  o.workers = 1;
  DataLoader loader(d, {}, small_transform(), o);
  loader.start_epoch(0);
  EXPECT_THROW(
      {
        while (loader.next()) {
        }
      },
      Error);
}

TEST(LoaderTest, CacheGivesTheSameBatchesAsFiles) {
  ScratchDir dir("loader-cache");
  Dataset d = make_images(dir);
  TransformOptions t = small_transform(/*hflip_prob=*/0.0);
  std::string cache = dir / "cache.fsc";
  write_decoded_cache(d, t, cache, 2);
  LoaderOptions o;
  o.batch_size = 6;
  o.workers = 2;
  o.seed = 5;
  DataLoader from_files(d, {}, t, o);
  o.cache_path = cache;
  DataLoader from_cache(d, {}, t, o);
  expect_same(run_epoch(from_files, 0), run_epoch(from_cache, 0), "files vs cache");
}

TEST(LoaderTest, CacheOfAnotherSizeIsRefused) {
  ScratchDir dir("loader-cache-size");
  Dataset d = make_images(dir, 4);
  TransformOptions t = small_transform(0.0);
  std::string cache = dir / "cache.fsc";
  write_decoded_cache(d, t, cache, 1);
  t.image_size_px = 8;
  LoaderOptions o;
  o.cache_path = cache;
  EXPECT_THROW(DataLoader(d, {}, t, o), Error);
}

TEST(LoaderTest, ResumeSkipsBatchesExactly) {
  ScratchDir dir("loader-resume");
  Dataset d = make_images(dir);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  o.seed = 3;
  DataLoader loader(d, {}, small_transform(), o);
  Epoch full = run_epoch(loader, 2);
  Epoch resumed = run_epoch(loader, 2, /*skip=*/3);
  ASSERT_EQ(resumed.images.size() + 3, full.images.size());
  for (size_t b = 0; b < resumed.images.size(); ++b) {
    EXPECT_TRUE(torch::equal(resumed.images[b], full.images[b + 3])) << b;
    EXPECT_TRUE(torch::equal(resumed.indices[b], full.indices[b + 3])) << b;
  }
  EXPECT_THROW(loader.start_epoch(0, 100), Error);
}

TEST(LoaderTest, DropLastAndShardsCoverTheSubsetOnce) {
  ScratchDir dir("loader-shards");
  Dataset d = make_images(dir);
  std::vector<int64_t> subset;
  for (int64_t i = 0; i < 20; ++i) subset.push_back(i);  // a split: the first 20 samples
  std::set<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = 1;
    o.drop_last = true;
    o.rank = rank;
    o.world_size = 2;
    DataLoader loader(d, subset, small_transform(), o);
    EXPECT_EQ(loader.batches_per_epoch(), 2);  // 10 per rank, 2 full batches of 4
    Epoch e = run_epoch(loader, 0);
    ASSERT_EQ(e.images.size(), 2u);
    for (const auto& idx : e.indices)
      for (int64_t i = 0; i < idx.size(0); ++i) {
        EXPECT_LT(idx[i].item<int64_t>(), 20);
        EXPECT_TRUE(seen.insert(idx[i].item<int64_t>()).second) << "sample in two shards";
      }
  }
  EXPECT_EQ(seen.size(), 16u);
}

TEST(LoaderTest, PinMemoryWithoutCudaStillLoads) {
  ScratchDir dir("loader-pin");
  Dataset d = make_images(dir, 4);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 1;
  o.pin_memory = true;
  DataLoader loader(d, {}, small_transform(), o);
  Epoch e = run_epoch(loader, 0);
  ASSERT_EQ(e.images.size(), 1u);
  EXPECT_EQ(e.images[0].is_pinned(), torch::cuda::is_available());
}

TEST(LoaderTest, EarlyDestructionMidEpochDoesNotHang) {
  ScratchDir dir("loader-destroy");
  Dataset d = make_images(dir, 40);
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  std::thread t([d, done] {
    for (int workers : {0, 1, 3}) {
      LoaderOptions o;
      o.batch_size = 2;
      o.workers = workers;
      o.prefetch_batches = 2;
      DataLoader loader(d, {}, small_transform(), o);
      loader.start_epoch(0);
      loader.next();  // workers are now mid-epoch with a full prefetch window
    }
    {
      LoaderOptions o;
      o.workers = 2;
      DataLoader never_started(d, {}, small_transform(), o);
    }
    done->set_value();
  });
  if (finished.wait_for(std::chrono::seconds(30)) == std::future_status::ready) {
    t.join();
  } else {
    ADD_FAILURE() << "destroying a loader mid-epoch hung for 30 s";
    t.detach();
  }
}

TEST(LoaderTest, BadOptionsAreErrors) {
  Dataset d;
  d.samples.push_back({"x.jpg", 0, "", ""});
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(DataLoader(d, {}, small_transform(), o), Error);
  o = {};
  o.rank = 3;
  o.world_size = 2;
  EXPECT_THROW(DataLoader(d, {}, small_transform(), o), Error);
  o = {};
  EXPECT_THROW(DataLoader(d, {5}, small_transform(), o), Error);
}

}  // namespace
}  // namespace forensight::data
