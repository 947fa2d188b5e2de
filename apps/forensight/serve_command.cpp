// forensight serve: the detectors of one or more checkpoints behind an HTTP API with dynamic
// batching (serve/server.h). Runs until SIGTERM or SIGINT, then drains and exits 0.
//   forensight serve --checkpoint runs/r18/checkpoints/best.pt [--port 8080]
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <memory>

#include "commands.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/serve/server.h"

namespace forensight::app {
namespace {

#ifdef FORENSIGHT_SERVE
// SIGTERM/SIGINT write their number here; the main thread waits on the other end. A pipe, not a
// flag: the handler may run on any thread, and write() is async-signal-safe.
int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int signal_number) {
  const char c = static_cast<char>(signal_number);
  [[maybe_unused]] const ssize_t n = ::write(g_stop_pipe[1], &c, 1);
}

void install_stop_handlers() {
  FS_CHECK(::pipe2(g_stop_pipe, O_CLOEXEC) == 0, "cannot create a pipe for signals: {}",
           std::strerror(errno));
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int s : {SIGTERM, SIGINT})
    FS_CHECK(::sigaction(s, &action, nullptr) == 0, "cannot handle signal {}: {}", s,
             std::strerror(errno));
  ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer is a failed write, not our death
}

int wait_for_stop_signal() {
  char c = 0;
  while (::read(g_stop_pipe[0], &c, 1) < 0 && errno == EINTR) {
  }
  return c;
}

void run_serve(serve::ServerOptions& options, int threads) {
  set_thread_counts(threads, 0);
  install_stop_handlers();  // before loading: a SIGTERM during the load still stops cleanly
  serve::Server server(options);
  server.start();
  const int signal_number = wait_for_stop_signal();
  spdlog::info("serve: {} received: draining for up to {} s", ::strsignal(signal_number),
               options.grace_s);
  if (!server.stop()) spdlog::warn("serve: the grace period ended before every request did");
}
#endif

}  // namespace

void register_serve_command(CLI::App& app) {
  auto o = std::make_shared<serve::ServerOptions>();
  auto threads = std::make_shared<int>(0);
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve detectors over HTTP: POST /v1/detect, /v1/detect/batch; GET /v1/models, /healthz, "
      "/readyz, /metrics and the web app at /. Stops on SIGTERM/SIGINT after draining.");
  cmd->add_option("--checkpoint", o->checkpoints,
                  "checkpoint from `forensight train` or `quantize`; repeat for several models")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--host", o->host,
                  "address to listen on (default 127.0.0.1; any other needs --api-key)");
  cmd->add_option("--port", o->port, "TCP port (default 8080; 0 = any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->api_key,
                  "require 'Authorization: Bearer KEY' on /v1/* (default: none on loopback)")
      ->envname("FORENSIGHT_API_KEY");
  cmd->add_option("--threshold", o->threshold, "P(AI-generated) threshold (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-batch", o->max_batch,
                  "images per forward pass (default 16; 1 = no batching)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--max-wait-ms", o->max_wait_ms,
                  "how long a queued image waits for a batch to fill (default 5)")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--instances", o->instances,
                  "copies of each model computing at once on the CPU, sharing --threads "
                  "(default 0 = 2 on the CPU with 2 or more threads, else 1)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--queue-size", o->queue_size,
                  "images queued per model before 503 + Retry-After (default 64)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--deadline-ms", o->deadline_ms,
                  "a request not started within this is answered 503 (default 10000)")
      ->check(CLI::Range(1, 3600000));
  cmd->add_option("--max-body-mb", o->max_body_mb, "largest request body, MiB (default 20)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-megapixels", o->max_megapixels,
                  "largest image by its header, megapixels (default 40)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-images", o->max_batch_images,
                  "images per /v1/detect/batch request (default 64)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--http-threads", o->http_threads,
                  "connections served at once (default 64): a keep-alive connection holds its "
                  "thread until it closes")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--io-timeout-s", o->io_timeout_s,
                  "a socket read or write longer than this closes the connection (default 10)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--keep-alive-s", o->keep_alive_s,
                  "idle connections close after this, a new one that sends nothing too (default 5)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--keep-alive-max-requests", o->keep_alive_max_requests,
                  "requests per connection before it closes (default 100)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-header-kb", o->max_header_kb,
                  "largest request line + headers, KiB (default 32; larger: 431)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--head-timeout-s", o->head_timeout_s,
                  "the request line and headers must arrive within this (default 10; else 408)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--body-timeout-s", o->body_timeout_s,
                  "the body must arrive within this after the headers (default 60; else 408)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--max-decodes", o->max_decodes,
                  "images decoded at once over all requests (default 0 = one per CPU core); "
                  "bounds the memory of a flood of large images")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--grace-s", o->grace_s,
                  "on SIGTERM, in-flight requests get this long to finish (default 10)")
      ->check(CLI::NonNegativeNumber);
  add_inference_options(*cmd, o->device, o->precision, *threads);
  cmd->callback([o, threads] {
#ifdef FORENSIGHT_SERVE
    run_serve(*o, *threads);
#else
    fail(
        "this forensight was built without cpp-httplib: install libcpp-httplib-dev "
        "(scripts/bootstrap.sh) and rebuild");
#endif
  });
}

}  // namespace forensight::app
