// `forensight serve`'s HTTP service: the detectors `predict` runs (eval::load_detector: folded
// fp32 or int8 on the CPU, CUDA when asked), one dynamic batcher per model, and the routes:
//   POST /v1/detect, POST /v1/detect/batch, GET /v1/models, POST /v1/report,
//   GET /healthz, GET /readyz, GET /metrics, GET / (the embedded web app).
// Bad input never hurts the server: request heads are bounded in bytes and time and bodies in
// size and time (serve/limited_stream.h), images are checked by their header before they are
// decoded and only max_decodes decode at once, every failure is a JSON answer with a status, and
// nothing is served from the disk. httplib stays inside serve/, so including this costs nothing.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace forensight::serve {

struct ServerOptions {
  std::vector<std::string> checkpoints;  // one model each, at least one
  std::string host = "127.0.0.1";        // a non-loopback host needs api_key
  int port = 8080;                       // 0 = a free port the kernel picks (see Server::port)
  std::string api_key;                   // "" = no check; required beyond loopback
  std::string device = "cpu";            // cpu, cuda, cuda:N
  std::string precision = "auto";        // auto, fp32, int8 (as `predict --precision`)
  double threshold = 0.5;                // P(AI-generated) at or above which label = 1

  // Images per forward pass (1 = no batching). 16, not 8: under 32 connections int8 served 592
  // images/s at p99 75 ms against 540 at 115 ms (`bench serve`, docs/RESULTS.md); with few
  // connections batches stay small, as the batcher waits only for images on their way.
  int max_batch = 16;
  int max_wait_ms = 5;  // how long the first queued image waits for a batch to fill
  // Copies of each model (CPU only), each with a worker taking batches from the model's one queue;
  // the intra-op threads are shared among the ones computing (serve/batcher.h). 0 =
  // default_instances(on the CPU, intra-op threads).
  int instances = 0;
  int queue_size = 64;      // images queued per model at most; beyond it: 503 + Retry-After
  int deadline_ms = 10000;  // a request not started within this is answered 503 without running

  int max_body_mb = 20;          // larger bodies: 413, drained but never stored
  double max_megapixels = 40.0;  // larger images (by their header): 422, never decoded
  int max_batch_images = 64;     // images per /v1/detect/batch request
  int http_threads = 64;         // connections served at once (a keep-alive one holds its thread)
  int io_timeout_s = 10;         // one read or write on a socket, then the connection closes
  int keep_alive_s = 5;          // an idle connection (a new one too) closes after this
  int keep_alive_max_requests = 100;  // requests per connection
  int max_header_kb = 32;             // request line + headers; larger: 431
  int head_timeout_s = 10;  // request line + headers must arrive within this (slow clients): 408
  int body_timeout_s = 60;  // the body must arrive within this after the headers: 408
  // Images decoded at once, all requests together (0 = one per CPU core): each may take 3 bytes per
  // pixel of max_megapixels while it decodes, so this bounds the memory of a flood of large images.
  int max_decodes = 0;
  double grace_s = 10.0;  // stop(): in-flight requests finish within this

  // Tests only: each model's worker sleeps this long before every forward pass (see
  // BatcherOptions).
  int worker_delay_ms = 0;
};

// The instances a model gets when --instances is not given: 2 on a CPU with at least 2 intra-op
// threads (under load two passes side by side use the cores that one pass leaves idle between its
// layers: +18-35% images/s at 8 and 32 connections on a 2-core Zen 3, the same at 1), else 1 (a
// GPU, or one thread to share). docs/RESULTS.md, "Instances".
int default_instances(bool on_cpu, int intra_op_threads);

class Server {
 public:
  // Loads every checkpoint and starts each model's batcher (which warms its model up in the
  // background: ready() turns true when all have). Throws Error on a bad option or checkpoint,
  // and for a non-loopback host without an API key.
  explicit Server(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and serves on background threads; returns once connections are accepted.
  // Throws Error when the address cannot be bound.
  void start();
  int port() const;    // the bound port (the kernel's choice when options.port was 0)
  bool ready() const;  // every model warmed up and not shutting down: what /readyz says

  // Stops accepting, lets in-flight requests finish for up to grace_s, answers whatever is still
  // queued with 503, and joins every thread. Returns false when the grace period ran out.
  // Safe to call from any thread, more than once.
  bool stop();
  // Blocks until stop() (from another thread) has finished.
  void wait();

  // What GET /v1/models answers: one object per model.
  nlohmann::json models_json() const;

  // Answers the bytes of one connection (one request or several, pipelined) as a socket's would be
  // answered, through httplib's parser and the same handlers, and returns what the server wrote
  // back. Needs no start(): the HTTP fuzz target's entry point (fuzz/fuzz_http_request.cpp).
  std::string answer_connection(std::string_view bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace forensight::serve
