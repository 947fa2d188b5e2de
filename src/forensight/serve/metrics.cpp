#include "forensight/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "forensight/core/error.h"

namespace forensight::serve {
namespace {

// Request latency: 1 ms to 10 s, roughly x2.5 apart (a forward of a small model to a deadline).
const std::vector<double> kLatencyBoundsS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
const std::vector<double> kBatchSizeBounds = {1, 2, 4, 8, 16, 32, 64, 128};

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string join_labels(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "," + b;
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), bucket_counts_(upper_bounds_.size() + 1, 0) {
  FS_CHECK(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()),
           "histogram bounds must be ascending");
}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  ++bucket_counts_[static_cast<size_t>(it - upper_bounds_.begin())];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& labels) const {
  std::string out;
  int64_t cumulative = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    cumulative += bucket_counts_[i];
    const double bound =
        i < upper_bounds_.size() ? upper_bounds_[i] : std::numeric_limits<double>::infinity();
    out +=
        fmt::format("{}_bucket{{{}}} {}\n", name,
                    join_labels(labels, fmt::format("le=\"{}\"", format_value(bound))), cumulative);
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n", name, braces, format_value(sum_));
  out += fmt::format("{}_count{} {}\n", name, braces, count_);
  return out;
}

Metrics::Metrics() = default;

void Metrics::record_request(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(route, Histogram(kLatencyBoundsS)).first;
  it->second.observe(seconds);
}

void Metrics::record_batch(const std::string& model, int batch_size) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  auto it = models_.find(model);
  if (it == models_.end())
    it = models_.emplace(model, ModelSeries{Histogram(kBatchSizeBounds), 0, 0, {}, now}).first;
  ModelSeries& series = it->second;
  series.batch_size.observe(batch_size);
  series.images += batch_size;
  ++series.batches;
  series.recent.emplace_back(now, batch_size);
  const auto window = std::chrono::duration<double>(kRateWindowS);
  while (!series.recent.empty() && now - series.recent.front().first > window)
    series.recent.pop_front();
}

double Metrics::images_per_second_locked(const ModelSeries& series, Clock::time_point now) const {
  const auto window = std::chrono::duration<double>(kRateWindowS);
  int64_t images = 0;
  for (const auto& [when, n] : series.recent)
    if (now - when <= window) images += n;
  // Over the window, or over the time since the first batch when the server is younger than it
  // (at least one second, so that one batch right after start is not an absurd rate).
  const double since_first = std::chrono::duration<double>(now - series.first_batch).count();
  return static_cast<double>(images) / std::clamp(since_first, 1.0, kRateWindowS);
}

double Metrics::images_per_second(const std::string& model) const {
  std::lock_guard lock(mutex_);
  const auto it = models_.find(model);
  return it == models_.end() ? 0.0 : images_per_second_locked(it->second, Clock::now());
}

std::string Metrics::render(const std::vector<GaugeSample>& gauges) const {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP forensight_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE forensight_http_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += fmt::format("forensight_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       escape_label_value(key.first), key.second, count);
  out +=
      "# HELP forensight_http_request_duration_seconds Time from a request's headers to its "
      "answer, by route.\n";
  out += "# TYPE forensight_http_request_duration_seconds histogram\n";
  for (const auto& [route, histogram] : latency_)
    out += histogram.render("forensight_http_request_duration_seconds",
                            fmt::format("route=\"{}\"", escape_label_value(route)));
  out += "# HELP forensight_batch_size Images per forward pass, by model.\n";
  out += "# TYPE forensight_batch_size histogram\n";
  for (const auto& [model, series] : models_)
    out += series.batch_size.render("forensight_batch_size",
                                    fmt::format("model=\"{}\"", escape_label_value(model)));
  out += "# HELP forensight_images_total Images run through a model.\n";
  out += "# TYPE forensight_images_total counter\n";
  for (const auto& [model, series] : models_)
    out += fmt::format("forensight_images_total{{model=\"{}\"}} {}\n", escape_label_value(model),
                       series.images);
  out += fmt::format(
      "# HELP forensight_images_per_second Images per second by model over the last {} s.\n",
      kRateWindowS);
  out += "# TYPE forensight_images_per_second gauge\n";
  for (const auto& [model, series] : models_)
    out +=
        fmt::format("forensight_images_per_second{{model=\"{}\"}} {}\n", escape_label_value(model),
                    format_value(images_per_second_locked(series, now)));
  std::string last_name;
  for (const auto& g : gauges) {
    if (g.name != last_name) {
      out += fmt::format("# TYPE {} gauge\n", g.name);
      last_name = g.name;
    }
    out += fmt::format("{}{} {}\n", g.name, g.labels.empty() ? "" : "{" + g.labels + "}",
                       format_value(g.value));
  }
  return out;
}

}  // namespace forensight::serve
