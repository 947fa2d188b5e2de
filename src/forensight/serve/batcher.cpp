#include "forensight/serve/batcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "forensight/core/parallel.h"

#include "forensight/core/timer.h"
#include "forensight/data/image.h"
#include "forensight/data/png_encoder.h"
#include "forensight/eval/inference.h"
#include "forensight/eval/predictor.h"
#include "forensight/serve/metrics.h"

namespace forensight::serve {
namespace {

double milliseconds_between(Batcher::Clock::time_point from, Batcher::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The calling thread's intra-op team size for its next forward pass. omp_set_num_threads changes
// the calling thread's count only; at::set_num_threads would also change the count LibTorch gives
// threads it has not seen yet (the HTTP threads among them). The first at::get_num_threads() on a
// thread sets its count from the process-wide one, so it comes first, or it would undo ours.
// Returns the count now in force.
int set_worker_threads(int threads) {
  if (at::get_num_threads() == threads) return threads;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  return at::get_num_threads();
}

}  // namespace

Batcher::Batcher(eval::Detector& detector, std::string name, BatcherOptions options,
                 Metrics* metrics)
    : Batcher(std::vector<eval::Detector*>{&detector}, std::move(name), options, metrics) {}

Batcher::Batcher(std::vector<eval::Detector*> instances, std::string name, BatcherOptions options,
                 Metrics* metrics)
    : instances_(std::move(instances)),
      name_(std::move(name)),
      options_(options),
      metrics_(metrics) {
  FS_CHECK(!instances_.empty(), "model '{}': a batcher needs at least one instance", name_);
  FS_CHECK(options_.max_batch >= 1, "--max-batch must be >= 1, got {}", options_.max_batch);
  FS_CHECK(options_.max_wait_ms >= 0, "--max-wait-ms must be >= 0, got {}", options_.max_wait_ms);
  FS_CHECK(options_.queue_size >= 1, "--queue-size must be >= 1, got {}", options_.queue_size);
  FS_CHECK(options_.intra_op_threads >= 0, "--threads must be >= 0, got {}",
           options_.intra_op_threads);
  intra_op_threads_ =
      options_.intra_op_threads > 0 ? options_.intra_op_threads : at::get_num_threads();
  computing_.assign(instances_.size(), 0);
  // spdlog creates its registry and default logger on first use: make that happen here, not in
  // two workers' warm-up logs at once (C++ makes the creation safe, but libspdlog is not
  // instrumented, so ThreadSanitizer cannot see that and reports it).
  spdlog::default_logger_raw();
  workers_.reserve(instances_.size());
  for (size_t i = 0; i < instances_.size(); ++i)
    workers_.emplace_back([this, i] { run_worker(i); });
}

Batcher::~Batcher() {
  stop(/*cancel_queued=*/true);
}

std::future<BatchResult> Batcher::submit(torch::Tensor input, Clock::time_point deadline) {
  std::future<BatchResult> future;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw ShutdownError("the server is shutting down");
    if (queue_.size() >= static_cast<size_t>(options_.queue_size))
      throw QueueFullError(
          fmt::format("model '{}' has {} images queued already (--queue-size): "
                      "try again shortly",
                      name_, queue_.size()));
    Item item{std::move(input), Clock::now(), deadline, {}};
    future = item.promise.get_future();
    queue_.push_back(std::move(item));
  }
  wake_.notify_all();
  return future;
}

Batcher::Arrival::Arrival(Batcher* batcher) : batcher_(batcher) {
  std::lock_guard lock(batcher_->mutex_);
  ++batcher_->arriving_;
}

Batcher::Arrival::~Arrival() {
  if (!batcher_) return;
  {
    std::lock_guard lock(batcher_->mutex_);
    --batcher_->arriving_;
  }
  batcher_->wake_.notify_all();
}

Batcher::Arrival& Batcher::Arrival::operator=(Arrival&& other) noexcept {
  if (this != &other) {
    Arrival dropped(std::move(*this));  // releases ours when it goes out of scope
    batcher_ = std::exchange(other.batcher_, nullptr);
  }
  return *this;
}

bool Batcher::warmed() const {
  std::lock_guard lock(mutex_);
  return warmed_instances_ == static_cast<int>(instances_.size());
}

int Batcher::peak_busy_instances() const {
  std::lock_guard lock(mutex_);
  return peak_busy_instances_;
}

size_t Batcher::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Batcher::stop(bool cancel_queued) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cancel_queued_ = cancel_queued_ || cancel_queued;
  }
  wake_.notify_all();
  for (auto& worker : workers_)
    if (worker.joinable()) worker.join();
}

void Batcher::warm_up(eval::Detector& detector) {
  // One mid-grey image of the model's input size through the whole path: PNG decode, transform,
  // normalisation, forward. The first forward allocates and picks kernels (and on CUDA loads
  // them); a ready server should not make its first client pay for that.
  const int side = detector.transform.image_size_px;
  data::Image image{side, side, std::vector<uint8_t>(static_cast<size_t>(side) * side * 3, 128)};
  const std::vector<uint8_t> png = data::encode_png(image);
  torch::NoGradGuard no_grad;
  Timer timer;
  torch::Tensor x = eval::preprocess_bytes(detector, png);  // (1, 3, H, W)
  eval::fake_probability(detector.model->forward(x)).cpu();
  spdlog::info("serve: model '{}' warmed up ({:.1f} ms)", name_, timer.milliseconds());
}

void Batcher::run_worker(size_t index) {
  eval::Detector& detector = *instances_[index];
  try {
    // The instances warm up at once: each on its share of the threads.
    set_worker_threads(std::max(1, intra_op_threads_ / static_cast<int>(instances_.size())));
    warm_up(detector);
    std::lock_guard lock(mutex_);
    ++warmed_instances_;
  } catch (const std::exception& e) {
    spdlog::error("serve: warm-up of model '{}' failed: {}", name_, e.what());
  }
  const auto max_wait = std::chrono::milliseconds(options_.max_wait_ms);
  const size_t max_batch = static_cast<size_t>(options_.max_batch);
  // An instance takes work only while every instance before it computes: under a light load the
  // first one answers everything, with its weights and its OpenMP team warm in the caches (when
  // they took turns, a lone fp32 request ran 14% slower in a first, noisy measurement on a 2-core
  // Zen 3), and the next one joins when requests come faster than one computes. Once stopping,
  // any drains the queue.
  const auto my_turn = [&] {
    for (size_t i = 0; i < index; ++i)
      if (!computing_[i]) return stopping_;
    return true;
  };
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || (!queue_.empty() && my_turn()); });
    if (queue_.empty()) break;  // stopping, nothing left
    if (cancel_queued_) {
      for (auto& item : queue_)
        item.promise.set_exception(
            std::make_exception_ptr(ShutdownError("the server shut down before this image ran")));
      queue_.clear();
      break;
    }
    // Gather: the oldest image waits at most max_wait for the batch to fill, and only while more
    // images are on their way; with none arriving, waiting would only add latency.
    wake_.wait_until(lock, queue_.front().enqueued + max_wait,
                     [&] { return stopping_ || queue_.size() >= max_batch || arriving_ == 0; });
    // Another instance may have taken the queue while this one waited.
    if (queue_.empty() || !my_turn()) continue;
    // One forward pass takes one input shape: images of another shape stay for the next pass.
    std::vector<Item> batch;
    const auto shape = queue_.front().input.sizes().vec();
    for (auto it = queue_.begin(); it != queue_.end() && batch.size() < max_batch;) {
      if (it->input.sizes().vec() == shape) {
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    // This forward pass's threads: an equal share among the instances computing now, itself
    // included. One that started alone keeps all of them until it ends; the next ones share.
    computing_[index] = 1;
    const int busy = static_cast<int>(std::count(computing_.begin(), computing_.end(), 1));
    peak_busy_instances_ = std::max(peak_busy_instances_, busy);
    lock.unlock();
    if (instances_.size() > 1) wake_.notify_all();  // the next instance may take what is left
    run_batch(detector, batch, set_worker_threads(std::max(1, intra_op_threads_ / busy)));
    lock.lock();
    computing_[index] = 0;
  }
}

void Batcher::run_batch(eval::Detector& detector, std::vector<Item>& batch, int threads) {
  const auto now = Clock::now();
  std::vector<Item> live;
  for (auto& item : batch) {
    if (now > item.deadline) {
      item.promise.set_exception(std::make_exception_ptr(DeadlineError(
          fmt::format("the request's deadline passed after {:.0f} ms in the queue of model '{}'",
                      milliseconds_between(item.enqueued, now), name_))));
    } else {
      live.push_back(std::move(item));
    }
  }
  if (live.empty()) return;
  if (options_.worker_delay_ms > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.worker_delay_ms));
  std::vector<double> probabilities;
  double compute_ms = 0.0;
  Clock::time_point started;
  try {
    torch::NoGradGuard no_grad;
    started = Clock::now();
    std::vector<torch::Tensor> inputs;
    inputs.reserve(live.size());
    for (const auto& item : live) inputs.push_back(item.input);
    torch::Tensor x = torch::cat(inputs, /*dim=*/0);  // (B, 3, H, W)
    // cat keeps the first input's layout; say it, since the engines read NHWC directly.
    if (detector.channels_last || detector.raw_pixels)
      x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor probability = eval::fake_probability(detector.model->forward(x))
                                    .cpu()
                                    .to(torch::kFloat64)
                                    .contiguous();  // (B)
    compute_ms = milliseconds_between(started, Clock::now());
    probabilities.assign(probability.data_ptr<double>(),
                         probability.data_ptr<double>() + probability.numel());
    FS_CHECK(probabilities.size() == live.size(), "model '{}' gave {} answers for {} images", name_,
             probabilities.size(), live.size());
  } catch (...) {
    const auto error = std::current_exception();
    for (auto& item : live) item.promise.set_exception(error);
    return;
  }
  if (metrics_) metrics_->record_batch(name_, static_cast<int>(live.size()));
  for (size_t i = 0; i < live.size(); ++i) {
    live[i].promise.set_value(BatchResult{probabilities[i],
                                          milliseconds_between(live[i].enqueued, started),
                                          compute_ms, static_cast<int>(live.size()), threads});
  }
}

}  // namespace forensight::serve
