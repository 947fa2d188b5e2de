#include "forensight/serve/batcher.h"

#include <spdlog/spdlog.h>

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

}  // namespace

Batcher::Batcher(eval::Detector& detector, std::string name, BatcherOptions options,
                 Metrics* metrics)
    : detector_(detector), name_(std::move(name)), options_(options), metrics_(metrics) {
  FS_CHECK(options_.max_batch >= 1, "--max-batch must be >= 1, got {}", options_.max_batch);
  FS_CHECK(options_.max_wait_ms >= 0, "--max-wait-ms must be >= 0, got {}", options_.max_wait_ms);
  FS_CHECK(options_.queue_size >= 1, "--queue-size must be >= 1, got {}", options_.queue_size);
  worker_ = std::thread([this] { run_worker(); });
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
  return warmed_;
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
  if (worker_.joinable()) worker_.join();
}

void Batcher::warm_up() {
  // One mid-grey image of the model's input size through the whole path: PNG decode, transform,
  // normalisation, forward. The first forward allocates and picks kernels (and on CUDA loads
  // them); a ready server should not make its first client pay for that.
  const int side = detector_.transform.image_size_px;
  data::Image image{side, side, std::vector<uint8_t>(static_cast<size_t>(side) * side * 3, 128)};
  const std::vector<uint8_t> png = data::encode_png(image);
  torch::NoGradGuard no_grad;
  Timer timer;
  torch::Tensor x = eval::preprocess_bytes(detector_, png);  // (1, 3, H, W)
  eval::fake_probability(detector_.model->forward(x)).cpu();
  spdlog::info("serve: model '{}' warmed up ({:.1f} ms)", name_, timer.milliseconds());
}

void Batcher::run_worker() {
  try {
    warm_up();
    std::lock_guard lock(mutex_);
    warmed_ = true;
  } catch (const std::exception& e) {
    spdlog::error("serve: warm-up of model '{}' failed: {}", name_, e.what());
  }
  const auto max_wait = std::chrono::milliseconds(options_.max_wait_ms);
  const size_t max_batch = static_cast<size_t>(options_.max_batch);
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
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
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

void Batcher::run_batch(std::vector<Item>& batch) {
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
    if (detector_.channels_last || detector_.raw_pixels)
      x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor probability = eval::fake_probability(detector_.model->forward(x))
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
                                          compute_ms, static_cast<int>(live.size())});
  }
}

}  // namespace forensight::serve
