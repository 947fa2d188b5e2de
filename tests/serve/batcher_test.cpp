// serve/batcher: images queued together run as one forward pass and each gets its own answer
// (equal to the single-image path's), a full queue refuses at once, an expired deadline is
// answered without running, and stop() runs or cancels what is queued.
#include "forensight/serve/batcher.h"

#include <gtest/gtest.h>

#include "forensight/serve/metrics.h"
#include "serve_support.h"

namespace forensight::serve {
namespace {

using testing::ServeFixture;

torch::Tensor input_of(const eval::Detector& detector, const std::string& image) {
  return eval::preprocess_bytes(
      detector, std::span(reinterpret_cast<const uint8_t*>(image.data()), image.size()));
}

Batcher::Clock::time_point in_seconds(double s) {
  return Batcher::Clock::now() +
         std::chrono::duration_cast<Batcher::Clock::duration>(std::chrono::duration<double>(s));
}

void wait_warmed(const Batcher& batcher) {
  for (int i = 0; i < 6000 && !batcher.warmed(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(batcher.warmed());
}

TEST(ServeBatcherTest, QueuedImagesShareOneForwardAndGetTheirOwnAnswers) {
  const auto& f = ServeFixture::get();
  for (const auto& checkpoint : f.checkpoints) {
    eval::Detector detector = eval::load_detector(checkpoint, torch::kCPU);
    Metrics metrics;
    Batcher batcher(detector, detector.name(), {.max_batch = 8, .max_wait_ms = 500}, &metrics);
    wait_warmed(batcher);
    std::vector<std::future<BatchResult>> results;
    {
      // As an HTTP thread does: "more is on its way" while the images are decoded and queued.
      const Batcher::Arrival arriving = batcher.expect_arrival();
      for (const auto& image : f.images)
        results.push_back(batcher.submit(input_of(detector, image), in_seconds(30)));
    }
    const auto& reference = f.reference.at(detector.name());
    for (size_t i = 0; i < results.size(); ++i) {
      const BatchResult r = results[i].get();
      EXPECT_EQ(r.batch_size, 8) << detector.name() << " image " << i;
      EXPECT_NEAR(r.probability_fake, reference[i], 1e-5) << detector.name() << " image " << i;
      EXPECT_GE(r.queue_ms, 0.0);
      EXPECT_GT(r.compute_ms, 0.0);
    }
    EXPECT_NE(metrics.render({}).find("forensight_batch_size_count{model=\"" + detector.name() +
                                      "\"} 1\n"),
              std::string::npos);
  }
}

// The worker waits for company only while an image is on its way: a lone image runs at once
// although max_wait_ms is long, and an image queued while another is announced waits for it.
TEST(ServeBatcherTest, LoneImageRunsAtOnceAndAnnouncedOnesAreWaitedFor) {
  const auto& f = ServeFixture::get();
  eval::Detector detector = eval::load_detector(f.checkpoints[0], torch::kCPU);
  Batcher batcher(detector, "m", {.max_batch = 8, .max_wait_ms = 3000}, nullptr);
  wait_warmed(batcher);
  const torch::Tensor x = input_of(detector, f.images[0]);
  const BatchResult lone = batcher.submit(x, in_seconds(30)).get();
  EXPECT_EQ(lone.batch_size, 1);
  EXPECT_LT(lone.queue_ms, 1000.0) << "a lone image waited for company that was not coming";

  Batcher::Arrival second = batcher.expect_arrival();
  auto first = batcher.submit(x, in_seconds(30));
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the first image ran although a second was announced";
  auto later = batcher.submit(x, in_seconds(30));
  second = Batcher::Arrival();  // the second image is queued: nothing more is on its way
  EXPECT_EQ(first.get().batch_size, 2);
  EXPECT_EQ(later.get().batch_size, 2);
}

TEST(ServeBatcherTest, MaxBatchOneRunsEveryImageAlone) {
  const auto& f = ServeFixture::get();
  eval::Detector detector = eval::load_detector(f.checkpoints[0], torch::kCPU);
  Batcher batcher(detector, "m", {.max_batch = 1, .max_wait_ms = 50}, nullptr);
  std::vector<std::future<BatchResult>> results;
  for (int i = 0; i < 3; ++i)
    results.push_back(batcher.submit(input_of(detector, f.images[i]), in_seconds(30)));
  for (int i = 0; i < 3; ++i) {
    const BatchResult r = results[i].get();
    EXPECT_EQ(r.batch_size, 1);
    EXPECT_NEAR(r.probability_fake, f.reference.at("resnet18")[i], 1e-5);
  }
}

TEST(ServeBatcherTest, FullQueueIsRefusedAtOnce) {
  const auto& f = ServeFixture::get();
  eval::Detector detector = eval::load_detector(f.checkpoints[0], torch::kCPU);
  Batcher batcher(detector, "m",
                  {.max_batch = 1, .max_wait_ms = 0, .queue_size = 2, .worker_delay_ms = 300},
                  nullptr);
  wait_warmed(batcher);
  const torch::Tensor x = input_of(detector, f.images[0]);
  auto running = batcher.submit(x, in_seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // taken: the worker sleeps
  auto queued1 = batcher.submit(x, in_seconds(30));
  auto queued2 = batcher.submit(x, in_seconds(30));
  EXPECT_EQ(batcher.queue_depth(), 2u);
  EXPECT_THROW(batcher.submit(x, in_seconds(30)), QueueFullError);
  EXPECT_NO_THROW(running.get());
  EXPECT_NO_THROW(queued1.get());
  EXPECT_NO_THROW(queued2.get());
}

TEST(ServeBatcherTest, ExpiredDeadlineIsAnsweredWithoutRunning) {
  const auto& f = ServeFixture::get();
  eval::Detector detector = eval::load_detector(f.checkpoints[0], torch::kCPU);
  Metrics metrics;
  Batcher batcher(detector, "m", {}, &metrics);
  wait_warmed(batcher);
  auto late = batcher.submit(input_of(detector, f.images[0]), in_seconds(-0.001));
  EXPECT_THROW(late.get(), DeadlineError);
  EXPECT_EQ(metrics.render({}).find("forensight_batch_size_count"), std::string::npos)
      << "an expired image must not run";
}

// Two instances (two loads of one checkpoint) compute two batches at once, every answer is still
// its own image's, and the intra-op threads are shared: a lone image gets them all, an image that
// starts while the other instance computes gets its half.
TEST(ServeBatcherTest, InstancesComputeAtOnceAndShareTheThreads) {
  const auto& f = ServeFixture::get();
  eval::Detector first = eval::load_detector(f.checkpoints[0], torch::kCPU);
  eval::Detector second = eval::load_detector(f.checkpoints[0], torch::kCPU);
#ifdef __SANITIZE_THREAD__
  // OpenMP's fork and join happen in libgomp, which ThreadSanitizer does not see, so under it
  // every forward pass runs on one thread (scripts/sanitize.sh) and the sharing is not checked.
  constexpr int kThreads = 1;
#else
  constexpr int kThreads = 2;
#endif
  // worker_delay_ms holds each forward pass for 300 ms, so that the two overlap for sure.
  Batcher batcher(
      {&first, &second}, "m",
      {.max_batch = 1, .max_wait_ms = 0, .intra_op_threads = kThreads, .worker_delay_ms = 300},
      nullptr);
  wait_warmed(batcher);
  EXPECT_EQ(batcher.instances(), 2);
  EXPECT_EQ(batcher.intra_op_threads(), kThreads);
  const BatchResult lone = batcher.submit(input_of(first, f.images[0]), in_seconds(30)).get();
  EXPECT_EQ(lone.intra_op_threads, kThreads) << "a lone image should have every thread";
  EXPECT_EQ(batcher.peak_busy_instances(), 1);

  std::vector<std::future<BatchResult>> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(batcher.submit(input_of(first, f.images[i]), in_seconds(30)));
  int fewest_threads = 1 << 30;
  for (int i = 0; i < 4; ++i) {
    const BatchResult r = results[i].get();
    EXPECT_NEAR(r.probability_fake, f.reference.at("resnet18")[i], 1e-5) << "image " << i;
    EXPECT_EQ(r.batch_size, 1);
    fewest_threads = std::min(fewest_threads, r.intra_op_threads);
  }
  EXPECT_EQ(batcher.peak_busy_instances(), 2) << "the two instances never computed at once";
  EXPECT_EQ(fewest_threads, 1) << "an instance starting beside a busy one should take its half";
}

TEST(ServeBatcherTest, StopRunsWhatIsQueuedOrCancelsIt) {
  const auto& f = ServeFixture::get();
  eval::Detector detector = eval::load_detector(f.checkpoints[0], torch::kCPU);
  const torch::Tensor x = input_of(detector, f.images[0]);
  {
    Batcher batcher(detector, "m", {.max_batch = 1, .worker_delay_ms = 50}, nullptr);
    std::vector<std::future<BatchResult>> results;
    for (int i = 0; i < 3; ++i) results.push_back(batcher.submit(x, in_seconds(30)));
    batcher.stop();
    for (auto& r : results) EXPECT_NO_THROW(r.get());
    EXPECT_THROW(batcher.submit(x, in_seconds(30)), ShutdownError);
  }
  {
    Batcher batcher(detector, "m", {.max_batch = 1, .worker_delay_ms = 200}, nullptr);
    wait_warmed(batcher);
    std::vector<std::future<BatchResult>> results;
    for (int i = 0; i < 3; ++i) results.push_back(batcher.submit(x, in_seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    batcher.stop(/*cancel_queued=*/true);
    EXPECT_NO_THROW(results[0].get());  // already running: it finishes
    EXPECT_THROW(results[2].get(), ShutdownError);
  }
}

}  // namespace
}  // namespace forensight::serve
