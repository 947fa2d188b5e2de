// The parallel loader. Work is handed out a batch at a time: a worker claims the next batch number,
// fills that batch's one (B, 3, H, W) uint8 tensor sample by sample, and parks it in a reorder
// buffer that the consumer drains in order. Each sample's randomness is seeded from (seed, epoch,
// sample index), so the output is identical for any number of workers.
#include "forensight/data/loader.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/decoded_cache.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/sampler.h"

namespace forensight::data {
namespace {

bool has_random_augmentation(const TransformOptions& t) {
  return t.hflip_prob > 0 || t.blur_prob > 0 || t.jpeg_prob > 0;
}

std::string normal_path(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// in: (3, S, S) uint8 CHW -> (S, S, 3) HWC image.
Image chw_to_image(std::span<const uint8_t> record, int side) {
  Image image;
  image.width = image.height = side;
  image.pixels.resize(record.size());
  const size_t plane = static_cast<size_t>(side) * side;
  for (size_t i = 0; i < plane; ++i) {
    image.pixels[3 * i] = record[i];
    image.pixels[3 * i + 1] = record[plane + i];
    image.pixels[3 * i + 2] = record[2 * plane + i];
  }
  return image;
}

// Decoders lead their messages with "'PATH': " or "'PATH' "; the report names the path in a
// column of its own.
std::string reason_without_path(const std::string& message, const std::string& path) {
  const std::string quoted = "'" + path + "'";
  if (message.rfind(quoted, 0) != 0) return message;
  size_t start = quoted.size();
  if (message.compare(start, 1, ":") == 0) ++start;
  if (message.compare(start, 1, " ") == 0) ++start;
  return message.substr(start);
}

}  // namespace

struct DataLoader::Impl {
  Dataset dataset;
  std::vector<int64_t> indices;  // dataset positions this loader iterates (a split)
  TransformOptions transform;
  LoaderOptions options;
  DecodeOptions decode;
  bool pin = false;
  std::unique_ptr<DecodedCache> cache;
  std::vector<int64_t> cache_record;  // per dataset sample: its cache record, or -1 (decode it)
  // Applied to cache records when the transform has random parts: the same flips, blur and JPEG
  // re-compression, on an image that already has the output size.
  TransformOptions cache_transform;

  // Epoch state, guarded by mutex.
  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a batch can be claimed, or stop
  std::condition_variable ready_cv;  // consumer: a batch is ready
  std::atomic<bool> stop = false;    // read by workers between samples without the lock
  bool started = false;
  uint64_t generation = 0;  // bumped by start_epoch; results of older generations are dropped
  int64_t epoch = 0;
  std::vector<int64_t> order;  // this rank's dataset indices for the epoch
  int64_t num_batches = 0;
  int64_t next_claim = 0;    // next batch a worker may take
  int64_t next_consume = 0;  // next batch the consumer returns
  struct Ready {
    Batch batch;
    std::exception_ptr error;
  };
  std::map<int64_t, Ready> ready;
  EpochStats stats;
  std::map<int64_t, std::string> bad_reason;  // per failed sample: the reason last reported
  std::vector<SkippedFile> skipped_files;     // reported since the last take_skipped()
  std::string first_error;
  std::vector<std::thread> workers;

  int64_t window() const {
    return std::max<int64_t>(options.prefetch_batches, std::max(options.workers, 1));
  }

  std::vector<int64_t> batch_members(int64_t b) const {
    int64_t begin = b * options.batch_size;
    int64_t end = std::min<int64_t>(begin + options.batch_size, static_cast<int64_t>(order.size()));
    return std::vector<int64_t>(order.begin() + begin, order.begin() + end);
  }

  // Fills one sample into `out` ((3, S, S) uint8). Throws forensight::Error for a bad file.
  void load_sample(int64_t index, int64_t epoch_number, uint8_t* out) {
    const int side = transform.image_size_px;
    std::mt19937_64 rng(
        mix_seed(options.seed, static_cast<uint64_t>(epoch_number), static_cast<uint64_t>(index)));
    int64_t record = cache ? cache_record[index] : -1;
    if (record >= 0) {
      auto bytes = cache->record(record);
      if (!has_random_augmentation(transform)) {
        std::memcpy(out, bytes.data(), bytes.size());
        return;
      }
      apply_transform_chw(chw_to_image(bytes, side), cache_transform, rng, out);
      return;
    }
    // The file and decoded image reuse this thread's buffers, and the transform writes the batch
    // slot directly: no per-sample allocation on the common path.
    thread_local std::vector<uint8_t> file_bytes;
    thread_local Image decoded;
    decode_image_file(dataset.samples[index].path, decode, file_bytes, decoded);
    apply_transform_chw(decoded, transform, rng, out);
  }

  // Builds batch b of the given epoch from its dataset indices. Bad samples are skipped: the batch
  // comes out smaller (never refilled from elsewhere, so batch b has the same samples for any
  // worker count and resuming at batch b stays exact).
  Batch build_batch(const std::vector<int64_t>& members, int64_t epoch_number) {
    const int side = transform.image_size_px;
    const int64_t count = static_cast<int64_t>(members.size());
    auto image_options = torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(pin);
    torch::Tensor images = torch::empty({count, 3, side, side}, image_options);  // (B, 3, S, S)
    torch::Tensor labels = torch::empty({count}, torch::kInt64);                 // (B)
    torch::Tensor idx = torch::empty({count}, torch::kInt64);                    // (B)
    uint8_t* base = images.data_ptr<uint8_t>();
    auto* label_ptr = labels.data_ptr<int64_t>();
    auto* index_ptr = idx.data_ptr<int64_t>();
    const size_t sample_bytes = static_cast<size_t>(3) * side * side;
    int64_t filled = 0;
    int64_t skipped = 0;
    for (int64_t index : members) {
      if (stop) break;
      try {
        load_sample(index, epoch_number, base + filled * sample_bytes);
      } catch (const Error& e) {  // DecodeError and other per-file errors: skip, count, log once
        ++skipped;
        std::lock_guard<std::mutex> lock(mutex);
        if (first_error.empty()) first_error = e.what();
        const std::string& path = dataset.samples[index].path;
        std::string reason = reason_without_path(e.what(), path);
        auto [known, added] = bad_reason.try_emplace(index, reason);
        if (added || known->second != reason) {
          known->second = reason;
          spdlog::warn("skipping '{}': {}", path, reason);
          skipped_files.push_back({path, std::move(reason)});
        }
        continue;
      }
      label_ptr[filled] = dataset.samples[index].label;
      index_ptr[filled] = index;
      ++filled;
    }
    Batch batch;
    batch.images = filled == count ? images : images.narrow(0, 0, filled);
    batch.labels = filled == count ? labels : labels.narrow(0, 0, filled);
    batch.indices = filled == count ? idx : idx.narrow(0, 0, filled);
    batch.skipped = skipped;
    return batch;
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      work_cv.wait(lock, [&] {
        return stop ||
               (started && next_claim < num_batches && next_claim < next_consume + window());
      });
      if (stop) return;
      int64_t b = next_claim++;
      uint64_t gen = generation;
      int64_t epoch_number = epoch;
      std::vector<int64_t> members = batch_members(b);
      lock.unlock();
      Ready result;
      try {
        result.batch = build_batch(members, epoch_number);
      } catch (...) {  // not a bad file (out of memory, a torch error): the consumer rethrows it
        result.error = std::current_exception();
      }
      lock.lock();
      if (stop) return;
      if (gen == generation) {
        ready.emplace(b, std::move(result));
        ready_cv.notify_all();
      }
    }
  }
};

DataLoader::DataLoader(Dataset dataset, std::vector<int64_t> indices, TransformOptions transform,
                       LoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  FS_CHECK(options.batch_size >= 1, "batch_size must be >= 1, got {}", options.batch_size);
  FS_CHECK(options.workers >= 0, "workers must be >= 0 (0 = load in the calling thread), got {}",
           options.workers);
  FS_CHECK(options.prefetch_batches >= 1, "prefetch_batches must be >= 1, got {}",
           options.prefetch_batches);
  FS_CHECK(transform.image_size_px >= 1, "image_size_px must be >= 1, got {}",
           transform.image_size_px);
  SamplerOptions sampler{options.shuffle, options.drop_last, options.seed, options.rank,
                         options.world_size};
  samples_per_rank(0, sampler);  // validates rank and world_size
  if (indices.empty()) {
    indices.resize(dataset.size());
    for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  }
  for (int64_t i : indices)
    FS_CHECK(i >= 0 && i < static_cast<int64_t>(dataset.size()),
             "loader index {} is out of range for a dataset of {} samples", i, dataset.size());

  s.dataset = std::move(dataset);
  s.indices = std::move(indices);
  s.transform = transform;
  s.options = options;
  s.decode.min_side_px = decode_min_side_px(transform);
  s.decode.max_pixels = transform.max_pixels;

  if (options.pin_memory) {
    // Opened before LibTorch is asked: asked first, it would answer "no CUDA" for good.
    s.pin = load_cuda_runtime().loaded && torch::cuda::is_available();
    if (!s.pin)
      spdlog::info("pin_memory requested but CUDA is not available: batches are unpinned");
  }

  if (!options.cache_path.empty()) {
    if (transform.size_mode == SizeMode::kRandomCrop)
      fail(
          "the decoded cache '{}' holds fixed center-cropped or resized images, so it cannot serve "
          "random crops: drop the cache or use size mode resize/center-crop/native-center",
          options.cache_path);
    // The whole file's CRC-32 is checked at open: 0.27-0.5 s for a 600 MB cache (4000 records of
    // 224 px; 1.2 GB/s cold, 1.8-2.2 GB/s from the page cache), well under one epoch's reading of
    // it, and a flipped bit never reaches training. docs/RELIABILITY.md has the measurement.
    s.cache = std::make_unique<DecodedCache>(options.cache_path, /*verify_checksum=*/true);
    if (s.cache->image_size_px() != transform.image_size_px)
      fail(
          "decoded cache '{}' holds {}px images but the transform wants {}px: rebuild the cache "
          "with `forensight data cache` at this size, or drop it",
          options.cache_path, s.cache->image_size_px(), transform.image_size_px);
    std::unordered_map<std::string, int64_t> by_path;
    for (int64_t r = 0; r < s.cache->size(); ++r) by_path.emplace(normal_path(s.cache->path(r)), r);
    s.cache_record.assign(s.dataset.size(), -1);
    int64_t missing = 0;
    for (int64_t i : s.indices) {
      auto it = by_path.find(normal_path(s.dataset.samples[i].path));
      if (it != by_path.end())
        s.cache_record[i] = it->second;
      else
        ++missing;
    }
    if (missing > 0)
      spdlog::warn("decoded cache '{}' lacks {} of the {} samples: those are decoded from files",
                   options.cache_path, missing, s.indices.size());
    s.cache_transform = transform;
    s.cache_transform.size_mode = SizeMode::kNativeCenter;  // an S x S crop of S x S: the identity
  }

  for (int w = 0; w < options.workers; ++w) s.workers.emplace_back([&s] { s.worker_loop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->work_cv.notify_all();
  impl_->ready_cv.notify_all();
  for (auto& t : impl_->workers) t.join();
}

void DataLoader::start_epoch(int64_t epoch, int64_t skip_batches) {
  Impl& s = *impl_;
  SamplerOptions sampler{s.options.shuffle, s.options.drop_last, s.options.seed, s.options.rank,
                         s.options.world_size};
  std::vector<int64_t> positions =
      sample_epoch(static_cast<int64_t>(s.indices.size()), epoch, sampler);
  std::vector<int64_t> order;
  order.reserve(positions.size());
  for (int64_t p : positions) order.push_back(s.indices[p]);
  int64_t batches = batches_per_epoch();
  FS_CHECK(skip_batches >= 0 && skip_batches <= batches,
           "cannot skip {} batches: epoch has {} batches per rank", skip_batches, batches);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.generation;
    s.epoch = epoch;
    s.order = std::move(order);
    s.num_batches = batches;
    s.next_claim = s.next_consume = skip_batches;
    s.ready.clear();
    s.stats = {};
    s.first_error.clear();
    s.started = true;
  }
  s.work_cv.notify_all();
}

std::optional<Batch> DataLoader::next() {
  Impl& s = *impl_;
  Timer wait;
  std::unique_lock<std::mutex> lock(s.mutex);
  if (!s.started) fail("DataLoader::next() called before start_epoch()");
  while (true) {
    if (s.next_consume >= s.num_batches) {
      s.stats.wait_seconds += wait.seconds();
      if (s.stats.samples == 0 && s.stats.skipped > 0)
        fail("every sample of epoch {} failed to load ({} skipped); the first error: {}", s.epoch,
             s.stats.skipped, s.first_error);
      return std::nullopt;
    }
    Impl::Ready result;
    if (s.options.workers == 0) {
      int64_t b = s.next_consume;
      std::vector<int64_t> members = s.batch_members(b);
      int64_t epoch_number = s.epoch;
      lock.unlock();
      result.batch = s.build_batch(members, epoch_number);
      lock.lock();
    } else {
      int64_t b = s.next_consume;
      s.ready_cv.wait(lock, [&] { return s.stop || s.ready.count(b) > 0; });
      if (s.stop) return std::nullopt;
      auto node = s.ready.extract(b);
      result = std::move(node.mapped());
    }
    result.batch.batch_index = s.next_consume++;
    s.work_cv.notify_all();  // the window moved: a worker may claim another batch
    if (result.error) std::rethrow_exception(result.error);
    s.stats.samples += result.batch.images.size(0);
    s.stats.skipped += result.batch.skipped;
    if (result.batch.images.size(0) == 0) continue;  // every sample of this batch was bad
    s.stats.wait_seconds += wait.seconds();
    return std::move(result.batch);
  }
}

int64_t DataLoader::batches_per_epoch() const {
  const Impl& s = *impl_;
  SamplerOptions sampler{s.options.shuffle, s.options.drop_last, s.options.seed, s.options.rank,
                         s.options.world_size};
  int64_t per_rank = samples_per_rank(static_cast<int64_t>(s.indices.size()), sampler);
  return s.options.drop_last ? per_rank / s.options.batch_size
                             : (per_rank + s.options.batch_size - 1) / s.options.batch_size;
}

const EpochStats& DataLoader::epoch_stats() const {
  return impl_->stats;
}
std::vector<SkippedFile> DataLoader::take_skipped() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return std::exchange(impl_->skipped_files, {});
}

const Dataset& DataLoader::dataset() const {
  return impl_->dataset;
}

}  // namespace forensight::data
