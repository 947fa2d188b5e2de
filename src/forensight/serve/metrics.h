// The server's counters and histograms, rendered in Prometheus' text exposition format (0.0.4):
// requests by route and status, request latency, forward-pass batch sizes, images per model.
// One mutex guards everything: a request touches it twice, a scrape once, far below a forward.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace forensight::serve {

// Cumulative-bucket histogram as Prometheus defines one: counts of observations <= each bound.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implicit
  void observe(double value);
  // The `name_bucket`, `name_sum` and `name_count` lines; `labels` is "" or `key="value",...`.
  std::string render(const std::string& name, const std::string& labels) const;
  int64_t count() const { return count_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<int64_t> bucket_counts_;  // per bound, not cumulative; the last one is +Inf
  double sum_ = 0.0;
  int64_t count_ = 0;
};

// A gauge the server reads when it renders (queue depth of each model's batcher).
struct GaugeSample {
  std::string name;    // metric name, e.g. forensight_queue_depth
  std::string labels;  // "" or `model="resnet18"`
  double value = 0.0;
};

class Metrics {
 public:
  Metrics();

  // One answered HTTP request. route: the route's pattern ("/v1/detect", "other" for 404s).
  void record_request(const std::string& route, int status, double seconds);
  // One forward pass of `batch_size` images by `model`.
  void record_batch(const std::string& model, int batch_size);

  // Images per second per model over the last `kRateWindowS` seconds (or since the first batch).
  double images_per_second(const std::string& model) const;

  // The whole exposition: HELP/TYPE lines, every series, then the gauges given.
  std::string render(const std::vector<GaugeSample>& gauges) const;

  static constexpr double kRateWindowS = 10.0;

 private:
  using Clock = std::chrono::steady_clock;
  struct ModelSeries {
    Histogram batch_size;
    int64_t images = 0;
    int64_t batches = 0;
    std::deque<std::pair<Clock::time_point, int>> recent;  // (when, images) in the rate window
    Clock::time_point first_batch;
  };
  double images_per_second_locked(const ModelSeries& series, Clock::time_point now) const;

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, int64_t> requests_;  // (route, status) -> count
  std::map<std::string, Histogram> latency_;                 // route -> seconds
  std::map<std::string, ModelSeries> models_;
};

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string escape_label_value(const std::string& value);

}  // namespace forensight::serve
