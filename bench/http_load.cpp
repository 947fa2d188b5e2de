#include "bench/http_load.h"

#include "forensight/core/error.h"

#ifdef FORENSIGHT_SERVE
#include <httplib.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "bench/statistics.h"
#endif

namespace forensight::bench {

#ifdef FORENSIGHT_SERVE
namespace {

using Clock = std::chrono::steady_clock;

httplib::Client loopback_client(int port, double timeout_s) {
  httplib::Client client("127.0.0.1", port);
  const auto seconds = static_cast<time_t>(timeout_s);
  const auto micros = static_cast<time_t>((timeout_s - static_cast<double>(seconds)) * 1e6);
  client.set_connection_timeout(seconds, micros);
  client.set_read_timeout(seconds, micros);
  client.set_write_timeout(seconds, micros);
  // httplib writes a request's headers and body in two sends: with Nagle's algorithm the body
  // waits for the server's delayed ACK of the headers (40 ms on Linux), which the load would
  // then measure as the server's latency.
  client.set_tcp_nodelay(true);
  return client;
}

HttpAnswer answer_of(const httplib::Result& result) {
  if (!result) return {0, "no answer: " + httplib::to_string(result.error())};
  return {result->status, result->body};
}

// One recorded request, as its connection thread saw it.
struct Sample {
  double start_s = 0.0;  // since the window opened
  double end_s = 0.0;
  bool ok = false;
  int batch_size = 0;  // what the answer says its forward pass held, 0 when it does not say
};

// CPU seconds (user + system) of every thread of this process so far.
double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int batch_size_of(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("models") || !json["models"].is_array() ||
      json["models"].empty())
    return 0;
  return json["models"][0].value("batch_size", 0);
}

}  // namespace

bool http_load_available() {
  return true;
}

HttpAnswer http_post(int port, const std::string& path, const std::string& body,
                     const std::string& content_type, double timeout_s) {
  auto client = loopback_client(port, timeout_s);
  return answer_of(client.Post(path, body, content_type));
}

HttpAnswer http_get(int port, const std::string& path, double timeout_s) {
  auto client = loopback_client(port, timeout_s);
  return answer_of(client.Get(path));
}

HttpLoadResult run_http_load(const HttpLoadOptions& o, const std::vector<std::string>& images) {
  FS_CHECK(!images.empty(), "the load needs at least one image to send");
  FS_CHECK(o.concurrency >= 1, "concurrency must be >= 1, got {}", o.concurrency);
  FS_CHECK(o.duration_s > 0 && o.warmup_s >= 0,
           "the load's duration must be > 0 s and its warm-up >= 0 s (got {} and {})", o.duration_s,
           o.warmup_s);
  FS_CHECK(o.max_requests >= 0, "the request cap must be >= 0, got {}", o.max_requests);
  const int n = o.concurrency;
  const Clock::time_point began = Clock::now();
  const double cpu_at_start = process_cpu_seconds();
  std::vector<std::vector<Sample>> samples(static_cast<size_t>(n));
  std::vector<std::string> first_errors(static_cast<size_t>(n));
  const Clock::time_point opened = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(o.warmup_s));
  const Clock::time_point closes = opened + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(o.duration_s));
  const auto seconds_since_open = [&](Clock::time_point t) {
    return std::chrono::duration<double>(t - opened).count();
  };
  // With a request cap the window closes when the cap-th request in it is sent.
  std::atomic<int64_t> sent_in_window{0};
  std::atomic<bool> capped{false};
  std::atomic<double> capped_at_s{o.duration_s};

  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      auto client = loopback_client(o.port, o.timeout_s);
      client.set_keep_alive(true);
      auto& mine = samples[static_cast<size_t>(t)];
      for (size_t k = 0;; ++k) {
        const Clock::time_point start = Clock::now();
        if (start >= closes || capped.load()) break;
        if (start >= opened && o.max_requests > 0 &&
            sent_in_window.fetch_add(1) + 1 >= o.max_requests && !capped.exchange(true))
          capped_at_s = seconds_since_open(start);
        const std::string& image = images[(static_cast<size_t>(t) + k * n) % images.size()];
        const httplib::Result result = client.Post(o.path, image, o.content_type);
        const Clock::time_point end = Clock::now();
        // Every answer that arrives after the window opened counts for latency, also one sent
        // during the warm-up: a connection the server left waiting shows its whole wait.
        if (end < opened) continue;
        Sample s{seconds_since_open(start), seconds_since_open(end), false, 0};
        s.ok = result && result->status == 200;
        if (s.ok) {
          s.batch_size = batch_size_of(result->body);
        } else if (first_errors[static_cast<size_t>(t)].empty()) {
          first_errors[static_cast<size_t>(t)] =
              result ? fmt::format("HTTP {}: {}", result->status, result->body.substr(0, 300))
                     : "no answer: " + httplib::to_string(result.error());
        }
        mine.push_back(s);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  HttpLoadResult r;
  r.client_cpu_s = process_cpu_seconds() - cpu_at_start;
  r.wall_s = std::chrono::duration<double>(Clock::now() - began).count();
  r.concurrency = n;
  r.seconds = capped_at_s.load();
  std::vector<double> latency_ms;
  int64_t completed_in_window = 0, batched = 0, batch_sum = 0;
  for (size_t t = 0; t < samples.size(); ++t) {
    for (const Sample& s : samples[t]) {
      ++r.requests;
      if (!s.ok) {
        ++r.errors;
        continue;
      }
      latency_ms.push_back((s.end_s - s.start_s) * 1e3);
      if (s.end_s <= r.seconds) ++completed_in_window;
      if (s.batch_size > 0) {
        ++batched;
        batch_sum += s.batch_size;
      }
    }
    if (r.first_error.empty()) r.first_error = first_errors[t];
  }
  // Throughput: answers completed inside the window over its length; the ones still in flight
  // when it closed are waited for and counted for latency only.
  r.images_per_s = static_cast<double>(completed_in_window) / std::max(r.seconds, 1e-9);
  if (!latency_ms.empty()) {
    r.p50_ms = percentile(latency_ms, 0.50);
    r.p90_ms = percentile(latency_ms, 0.90);
    r.p99_ms = percentile(latency_ms, 0.99);
    r.max_ms = percentile(latency_ms, 1.0);
  }
  if (batched > 0)
    r.mean_batch_size = static_cast<double>(batch_sum) / static_cast<double>(batched);
  return r;
}

#else  // built without cpp-httplib

namespace {
[[noreturn]] void unavailable() {
  fail(
      "this forensight was built without cpp-httplib, which `bench serve` needs: install "
      "libcpp-httplib-dev (scripts/bootstrap.sh) and rebuild");
}
}  // namespace

bool http_load_available() {
  return false;
}
HttpAnswer http_post(int, const std::string&, const std::string&, const std::string&, double) {
  unavailable();
}
HttpAnswer http_get(int, const std::string&, double) {
  unavailable();
}
HttpLoadResult run_http_load(const HttpLoadOptions&, const std::vector<std::string>&) {
  unavailable();
}

#endif

}  // namespace forensight::bench
