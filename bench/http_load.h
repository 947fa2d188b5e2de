// A bounded closed-loop HTTP load on loopback, as `forensight bench serve` puts it on a detection
// server: N connection threads, each with its own keep-alive client, each sending its next request
// only when the answer to the last one has arrived (so the offered load adapts to the server and
// nothing queues beyond N requests). cpp-httplib stays inside http_load.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace forensight::bench {

struct HttpLoadOptions {
  int port = 0;                     // 127.0.0.1:port
  std::string path = "/v1/detect";  // POSTed to, the image as the raw body
  std::string content_type = "image/jpeg";
  int concurrency = 1;       // connection threads, >= 1
  double warmup_s = 1.0;     // load before the window opens, >= 0
  double duration_s = 5.0;   // the window, > 0
  int64_t max_requests = 0;  // also close the window when this many were sent in it (0 = no cap)
  double timeout_s = 60.0;   // one request's connect/read/write limit
};

struct HttpLoadResult {
  int concurrency = 0;
  int64_t requests = 0;       // recorded: answered (or failed) after the window opened
  int64_t errors = 0;         // of those: transport failures and non-200 answers
  double seconds = 0.0;       // the window's length
  double images_per_s = 0.0;  // successful answers inside the window / seconds
  // Over every successful recorded request, from its send to its answer: one sent during the
  // warm-up and answered in the window counts whole, and so does one still in flight when the
  // window closed (the load waits for it), so a connection left waiting is not hidden.
  double p50_ms = 0.0, p90_ms = 0.0, p99_ms = 0.0, max_ms = 0.0;
  double mean_batch_size = 0.0;  // mean "batch_size" the answers report (0 when none do)
  // The load generator's own cost: CPU seconds this process spent (every thread: the connection
  // threads send, receive and parse) over the whole load, warm-up and drain included, and that
  // span's wall seconds. On a machine the server shares with its load, what the client burns
  // the server cannot use, so a throughput ratio against an offline pass needs this beside it.
  double client_cpu_s = 0.0;
  double wall_s = 0.0;
  std::string first_error;  // what the first failure was, "" when none
};

// Runs the load: connection thread i sends images[(i + k * concurrency) % images.size()] as its
// k-th request. Throws Error when `images` is empty or an option is out of range.
HttpLoadResult run_http_load(const HttpLoadOptions& options,
                             const std::vector<std::string>& images);

// One request at a time (checks before timing, readiness probes).
struct HttpAnswer {
  int status = 0;    // 0 when no answer came (refused, timed out)
  std::string body;  // the answer's body, or why none came
};
HttpAnswer http_post(int port, const std::string& path, const std::string& body,
                     const std::string& content_type, double timeout_s = 60.0);
HttpAnswer http_get(int port, const std::string& path, double timeout_s = 2.0);

// False in a build without cpp-httplib (FORENSIGHT_SERVE off): every call above then throws.
bool http_load_available();

}  // namespace forensight::bench
