// The parallel loader: N worker threads decode and transform samples into one contiguous uint8
// batch tensor each, through a bounded prefetch queue. The sequence of samples it yields depends
// only on the seed, epoch and sampler, never on the number of workers.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forensight/data/dataset.h"
#include "forensight/data/transform.h"

namespace forensight::data {

struct LoaderOptions {
  int batch_size = 32;       // samples per batch, >= 1
  int workers = 2;           // decoding threads; 0 = decode in the calling thread
  int prefetch_batches = 4;  // bounded queue depth (batches ready ahead of the consumer)
  bool shuffle = true;       // reshuffle each epoch from (seed, epoch)
  bool drop_last = false;    // drop a final partial batch
  bool pin_memory = false;   // page-locked batches for asynchronous GPU copies (CUDA only)
  uint64_t seed = 0;         // shuffling and random transforms
  int rank = 0;              // distributed sampler: this process's shard ...
  int world_size = 1;        // ... of this many equal-length, disjoint shards
  std::string cache_path;    // decoded cache (data cache) to read instead of decoding; "" = none
};

struct Batch {
  torch::Tensor images;   // (B, 3, H, W) uint8
  torch::Tensor labels;   // (B) int64, -1 for unlabelled samples
  torch::Tensor indices;  // (B) int64, index into Dataset::samples
  int64_t skipped = 0;    // bad files skipped while filling this batch (they are replaced by none)
  int64_t batch_index = 0;  // position in the epoch; resume with skip_batches = batch_index + 1
};

// A file the loader could not use, and why (the decoder's or the file system's words).
struct SkippedFile {
  std::string path;
  std::string reason;
};

struct EpochStats {
  int64_t samples = 0;        // samples delivered
  int64_t skipped = 0;        // corrupt or unreadable files skipped (each logged once)
  double wait_seconds = 0.0;  // time the consumer waited on next()
};

class DataLoader {
 public:
  // indices: the subset of dataset.samples to iterate (a split); empty = all samples.
  DataLoader(Dataset dataset, std::vector<int64_t> indices, TransformOptions transform,
             LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch` (0-based), skipping its first `skip_batches` batches (for resume).
  void start_epoch(int64_t epoch, int64_t skip_batches = 0);
  // The next batch of the current epoch, or std::nullopt at its end. Bad files are skipped (logged
  // once, counted): the batch holding one is smaller, and a batch of only bad files is passed over.
  // Rethrows a worker's non-file error (out of memory); throws Error when a whole epoch failed.
  std::optional<Batch> next();
  // Batches per epoch for this rank (after sharding and drop_last).
  int64_t batches_per_epoch() const;
  const EpochStats& epoch_stats() const;
  // The files skipped since the last call, in the order they failed: each the first time it fails
  // and again whenever its reason changes (a file that decoded in epoch 1 and vanished in epoch 2),
  // which is also when a warning is logged. A worker may add to it at any time; safe to call then.
  std::vector<SkippedFile> take_skipped();
  const Dataset& dataset() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace forensight::data
