// Stage threads with their own intra-op thread counts (stage_worker.h).
#include "forensight/parallel/stage_worker.h"

#include <ATen/Parallel.h>

namespace forensight::parallel {

StageWorker::StageWorker(int intra_op_threads) {
  // at::set_num_threads sets the calling thread's OpenMP team size (and MKL's thread-local count),
  // but also the process-wide count LibTorch gives threads it has not seen yet. Set it on the
  // stage thread, then restore the process-wide count from this thread, whose own team size it
  // leaves as it was.
  const int caller_threads = at::get_num_threads();
  std::promise<int> started;
  std::future<int> stage_threads = started.get_future();
  thread_ = std::thread([this, intra_op_threads, &started] {
    if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
    started.set_value(at::get_num_threads());
    run();
  });
  intra_op_threads_ = stage_threads.get();
  if (intra_op_threads > 0) at::set_num_threads(caller_threads);
}

StageWorker::~StageWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::shared_future<void> StageWorker::submit(std::function<void()> job) {
  std::packaged_task<void()> task(std::move(job));
  std::shared_future<void> done = task.get_future().share();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(task));
  }
  wake_.notify_one();
  return done;
}

void StageWorker::run() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      task = std::move(jobs_.front());
      jobs_.pop_front();
    }
    task();  // an exception is stored in the task's future
  }
}

}  // namespace forensight::parallel
