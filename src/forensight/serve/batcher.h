// One model's dynamic batcher: HTTP threads submit preprocessed images, a worker thread gathers
// whatever arrives within max_wait_ms (up to max_batch images) into one forward pass and hands
// each waiting request its own probability. With several instances (copies of the model), as
// many workers take batches from the one queue at once, and share the intra-op threads among the
// ones computing (see BatcherOptions::intra_op_threads). The worker waits for company only while
// another image is on its way (an HTTP thread holds an Arrival for it): a lone request runs at once
// instead of waiting max_wait_ms for nobody. The queue is bounded, so an overloaded server says so
// at once (QueueFullError -> 503) instead of queueing work it will never finish in time; a
// request whose deadline passed while it waited is answered without running (DeadlineError).
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/eval/detector.h"

namespace forensight::serve {

class Metrics;

struct BatcherOptions {
  int max_batch = 16;   // images per forward pass, >= 1 (1 = every request runs alone)
  int max_wait_ms = 5;  // how long the oldest queued image waits for company, >= 0
  int queue_size = 64;  // images waiting at most, >= 1; a submit beyond it is refused
  // The intra-op threads all instances share (0 = LibTorch's count when the batcher starts).
  // Each forward pass runs on intra_op_threads / (instances computing, itself included), decided
  // when it starts: a lone request gets every thread (the lowest latency), and under load each
  // instance computes on its share, so that the serial stretches of one forward pass (OpenMP
  // barriers, quantisation steps, one-thread layers) leave their cores to the other instance
  // instead of idle.
  int intra_op_threads = 0;
  // Tests only: the worker sleeps this long before each forward pass (after the deadline check),
  // which makes the queue-full and deadline paths reachable with a tiny model. 0 in production.
  int worker_delay_ms = 0;
};

struct BatchResult {
  double probability_fake = 0.0;  // P(AI-generated)
  double queue_ms = 0.0;          // from submit until the forward pass began
  double compute_ms = 0.0;        // the forward pass, shared by the whole batch
  int batch_size = 0;             // images in that forward pass
  int intra_op_threads = 0;       // the threads that forward pass ran on
};

// The queue holds queue_size images already: try again later (HTTP 503 + Retry-After).
class QueueFullError : public Error {
 public:
  using Error::Error;
};
// The request's deadline passed before its forward pass could begin (HTTP 503).
class DeadlineError : public Error {
 public:
  using Error::Error;
};
// The batcher is stopping and takes nothing more (HTTP 503).
class ShutdownError : public Error {
 public:
  using Error::Error;
};

class Batcher {
 public:
  using Clock = std::chrono::steady_clock;

  // `detector` must outlive the batcher; only the worker thread runs its model. `name` labels the
  // metrics. The worker starts at once and first runs one warm-up forward (see warmed()).
  Batcher(eval::Detector& detector, std::string name, BatcherOptions options, Metrics* metrics);
  // One worker per instance: copies of one model (the same checkpoint loaded once each), so that
  // no two threads run one module at once. At least one; each must outlive the batcher.
  Batcher(std::vector<eval::Detector*> instances, std::string name, BatcherOptions options,
          Metrics* metrics);
  ~Batcher();  // stop(/*cancel_queued=*/true)
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // input: (1, 3, H, W) as eval::preprocess_bytes(detector, ...) returns it. Throws QueueFullError
  // when queue_size images wait already and ShutdownError after stop(). The future throws
  // DeadlineError when `deadline` passed before the forward pass began, ShutdownError when stop()
  // cancelled the queue, and the forward pass's own error if it failed.
  std::future<BatchResult> submit(torch::Tensor input, Clock::time_point deadline);

  // Says "an image for this model is being read or decoded" for as long as it lives. An HTTP
  // thread takes one before it decodes and drops it after submit(): while any is held, the worker
  // waits (up to max_wait_ms) for the batch to fill; when none is, nothing else is coming soon and
  // the queued images run now. Move-only; must not outlive the batcher.
  class Arrival {
   public:
    Arrival() = default;
    explicit Arrival(Batcher* batcher);
    ~Arrival();
    Arrival(Arrival&& other) noexcept : batcher_(std::exchange(other.batcher_, nullptr)) {}
    Arrival& operator=(Arrival&& other) noexcept;
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;

   private:
    Batcher* batcher_ = nullptr;
  };
  Arrival expect_arrival() { return Arrival(this); }

  const std::string& name() const { return name_; }
  const eval::Detector& detector() const { return *instances_.front(); }
  int instances() const { return static_cast<int>(instances_.size()); }
  int intra_op_threads() const { return intra_op_threads_; }  // shared by the instances
  bool warmed() const;         // every instance's warm-up forward has run (and succeeded)
  size_t queue_depth() const;  // images waiting, not counting the batch being computed

  // Takes no more images; runs what is queued (or, with cancel_queued, answers it with
  // ShutdownError), then joins the worker. Idempotent.
  void stop(bool cancel_queued = false);

  // Tests only: the most instances that were computing at once so far.
  int peak_busy_instances() const;

 private:
  struct Item {
    torch::Tensor input;  // (1, 3, H, W)
    Clock::time_point enqueued;
    Clock::time_point deadline;
    std::promise<BatchResult> promise;
  };

  void run_worker(size_t index);  // the worker of instances_[index]
  void warm_up(eval::Detector& detector);
  void run_batch(eval::Detector& detector, std::vector<Item>& batch, int threads);

  std::vector<eval::Detector*> instances_;
  std::string name_;
  BatcherOptions options_;
  Metrics* metrics_;  // may be null
  int intra_op_threads_ = 1;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  int arriving_ = 0;  // Arrivals held: images on their way to submit()
  bool stopping_ = false;
  bool cancel_queued_ = false;
  int warmed_instances_ = 0;
  std::vector<char> computing_;  // per instance: in a forward pass
  int peak_busy_instances_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace forensight::serve
