// A persistent thread that runs one pipeline stage's jobs in the order they were submitted, with
// its own intra-op thread budget. LibTorch's CPU parallelism is OpenMP in the PyPI wheel, whose
// team size is a per-thread setting (the nthreads ICV, and MKL's thread-local count): calling
// at::set_num_threads on the stage's own thread gives each stage its own team, so two stages of
// one thread each really run side by side on two cores.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace forensight::parallel {

class StageWorker {
 public:
  // intra_op_threads: the stage thread's LibTorch intra-op threads (0 = LibTorch's default for a
  // new thread). Returns once the thread runs with it. The calling thread's own count is kept.
  explicit StageWorker(int intra_op_threads);
  // Runs the jobs already submitted, then joins the thread.
  ~StageWorker();
  StageWorker(const StageWorker&) = delete;
  StageWorker& operator=(const StageWorker&) = delete;
  StageWorker(StageWorker&&) = delete;
  StageWorker& operator=(StageWorker&&) = delete;

  // Queues `job` behind the earlier ones; the future reports its completion or rethrows its error.
  std::shared_future<void> submit(std::function<void()> job);
  // at::get_num_threads() as seen on the stage thread.
  int intra_op_threads() const { return intra_op_threads_; }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> jobs_;  // guarded by mutex_
  bool stopping_ = false;                        // guarded by mutex_
  int intra_op_threads_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace forensight::parallel
