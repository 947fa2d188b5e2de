#include "forensight/serve/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <span>
#include <thread>

#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/image_decoder.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/predictor.h"
#include "forensight/serve/auth.h"
#include "forensight/serve/batcher.h"
#include "forensight/serve/http_server.h"
#include "forensight/serve/limited_stream.h"
#include "forensight/serve/metrics.h"

// The web app and the PDF report are another module's; the server builds with or without them.
#if __has_include("forensight/serve/web_assets.h")
#include "forensight/serve/web_assets.h"
#define FORENSIGHT_SERVE_WEB_ASSETS 1
#endif
#if __has_include("forensight/serve/pdf_report.h")
#include "forensight/serve/pdf_report.h"
#define FORENSIGHT_SERVE_PDF_REPORT 1
#endif

namespace forensight::serve {
namespace {

using Clock = std::chrono::steady_clock;

// httplib compiles a backlog of 5 into its library: a burst of clients then waits for SYN
// retransmits (1 s). The socket is listened on again with this one (Linux takes the new value).
constexpr int kListenBacklog = 256;
constexpr int kMaxMultipartParts = 1024;

// Per HTTP thread (httplib answers one request per thread at a time): when the request being
// answered arrived and which route it took, for the metrics the logger records after the answer.
thread_local Clock::time_point t_request_start{};
thread_local std::string t_route;

std::string to_json_text(const nlohmann::json& j) {
  // Filenames and decoder messages may hold bytes that are not UTF-8: replace, never throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(to_json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

// The same answer, after which the connection closes: for a request whose body was left partly
// unread (too large, malformed), where the next "request" on the connection would be its rest.
// httplib closes a connection whose content provider reports failure, after the bytes it wrote.
void send_error_and_close(httplib::Response& res, int status, const std::string& message) {
  auto text = std::make_shared<std::string>(to_json_text({{"error", message}}));
  res.status = status;
  res.body.clear();
  res.set_header("Connection", "close");
  res.set_content_provider(text->size(), "application/json",
                           [text](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(text->data() + offset, length);
                             return false;  // done: close the connection
                           });
}

struct Body {
  std::string raw;                                // a non-multipart body
  std::vector<httplib::MultipartFormData> parts;  // multipart parts, in order
};

// The body length a request declares, read as httplib reads it (strtoull: "abc" is 0, "-1" and
// overflows are the largest value); 0 without the header.
uint64_t declared_body_bytes(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return 0;
  return std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
}

std::string label_name(int label) {
  return label == 1 ? "ai-generated" : "real";
}

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(start, end - start);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (!name.empty()) names.push_back(name);
    start = end + 1;
  }
  return names;
}

// Everything eval::preprocess_bytes reads of a detector: two detectors with the same signature get
// the same input tensor from the same bytes.
std::string preprocessing_signature(const eval::Detector& d) {
  const data::TransformOptions& t = d.transform;
  return fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {} {}", t.image_size_px,
                     static_cast<int>(t.size_mode), t.resize_px, t.max_pixels, t.hflip_prob,
                     t.blur_prob, t.jpeg_prob, t.degradation.active(),
                     static_cast<int>(d.normalization), d.channels_last, d.raw_pixels,
                     d.device.str(), t.degradation.jpeg_quality, t.degradation.downscale,
                     data::input_filter_name(d.input_filter));
}

// The reason for the refusals httplib makes on its own (before any route runs).
std::string status_text(int status) {
  switch (status) {
    case 400:
      return "bad request: the request line or headers are malformed";
    case 413:
      return "the body is larger than the limit (--max-body-mb)";
    case 414:
      return "the URI is too long";
    case 416:
      return "the Range header is malformed";
    default:
      return fmt::format("HTTP status {}", status);
  }
}

}  // namespace

int default_instances(bool on_cpu, int intra_op_threads) {
  return on_cpu && intra_op_threads >= 2 ? 2 : 1;
}

struct Server::Impl {
  struct Model {
    std::string name;  // unique: the model's preset, suffixed -2, -3... for repeats
    // --instances copies, each its own load of the checkpoint so that no module is run by two
    // threads at once; they share one transform, so requests are prepared for the first.
    std::vector<std::unique_ptr<eval::Detector>> instances;
    std::unique_ptr<Batcher> batcher;

    const eval::Detector& first() const { return *instances.front(); }
  };

  // One route: a path answers one or more methods.
  struct Route {
    std::string method;       // GET or POST
    bool api = false;         // needs the API key when one is set
    bool reads_body = false;  // the handler gets the body (POST)
    std::function<void(const httplib::Request&, httplib::Response&, Body&)> handle;
  };

  // One image on its way through the selected models: submitted first, collected later, so that
  // the images of one batch request share forward passes.
  struct ImageJob {
    std::string filename;  // the multipart part's filename, "" for a raw body
    int status = 200;      // != 200: `error` says why
    std::string error;
    nlohmann::json image;  // format, width, height, bytes
    struct Pending {
      Model* model;
      double preprocess_ms;
      std::future<BatchResult> result;
    };
    std::vector<Pending> pending;
  };

  explicit Impl(ServerOptions o);
  void configure_http();
  void add_routes();
  void dispatch(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader* reader);
  bool read_body(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader, Body& body);
  void discard_body(const httplib::Request& req, const httplib::ContentReader* reader,
                    bool& must_close);

  std::vector<Model*> select_models(const httplib::Request& req, std::string& error);
  // One Batcher::Arrival on each selected model's batcher, held while the request's images are
  // decoded and submitted.
  static std::vector<Batcher::Arrival> expect_arrivals(const std::vector<Model*>& selected);
  ImageJob submit_image(std::string_view bytes, std::string filename,
                        const std::vector<Model*>& models, Clock::time_point deadline);
  nlohmann::json collect(ImageJob& job);

  void handle_detect(const httplib::Request& req, httplib::Response& res, Body& body);
  void handle_detect_batch(const httplib::Request& req, httplib::Response& res, Body& body);
  void handle_report(const httplib::Request& req, httplib::Response& res, Body& body);
  void handle_metrics(httplib::Response& res);
  void handle_readyz(httplib::Response& res);

  bool ready() const;
  nlohmann::json models_json() const;
  bool stop();

  ServerOptions options;
  size_t max_body_bytes = 0;
  int64_t max_pixels = 0;
  torch::Device device = torch::kCPU;
  std::vector<Model> models;
  Metrics metrics;
  // Free decode slots: a request waits for one (until its deadline) before it decodes an image.
  std::unique_ptr<std::counting_semaphore<>> decode_slots;
  int decode_slot_count = 0;
  HttpServer http;
  std::map<std::string, std::vector<Route>> routes;  // path -> its methods
  int listen_fd = -1;

  std::thread listener;
  std::shared_future<void> listener_done;
  std::atomic<bool> draining{false};
  std::atomic<int> in_flight{0};
  std::mutex lifecycle_mutex;
  bool started = false;
  bool stopped = false;
  int port = 0;
  std::promise<void> stopped_promise;
  std::shared_future<void> stopped_future = stopped_promise.get_future().share();
  Timer uptime;
};

Server::Impl::Impl(ServerOptions o) : options(std::move(o)) {
  FS_CHECK(!options.checkpoints.empty(), "serve needs at least one --checkpoint");
  FS_CHECK(options.threshold >= 0.0 && options.threshold <= 1.0,
           "--threshold must be in [0, 1], got {}", options.threshold);
  FS_CHECK(options.max_body_mb >= 1, "--max-body-mb must be >= 1, got {}", options.max_body_mb);
  FS_CHECK(options.max_megapixels > 0, "--max-megapixels must be > 0, got {}",
           options.max_megapixels);
  FS_CHECK(options.deadline_ms >= 1, "--deadline-ms must be >= 1, got {}", options.deadline_ms);
  FS_CHECK(options.http_threads >= 1, "--http-threads must be >= 1, got {}", options.http_threads);
  FS_CHECK(options.instances >= 0, "--instances must be >= 1 (or 0 for the default), got {}",
           options.instances);
  FS_CHECK(options.max_batch_images >= 1, "--max-batch-images must be >= 1, got {}",
           options.max_batch_images);
  FS_CHECK(options.io_timeout_s >= 1 && options.keep_alive_s >= 1 &&
               options.keep_alive_max_requests >= 1,
           "--io-timeout-s, --keep-alive-s and --keep-alive-max-requests must be >= 1, got {}, {} "
           "and {}",
           options.io_timeout_s, options.keep_alive_s, options.keep_alive_max_requests);
  FS_CHECK(options.max_header_kb >= 1 && options.max_header_kb <= (1 << 20),
           "--max-header-kb must be in [1, 1048576], got {}", options.max_header_kb);
  FS_CHECK(options.head_timeout_s >= 1 && options.body_timeout_s >= 1,
           "--head-timeout-s and --body-timeout-s must be >= 1, got {} and {}",
           options.head_timeout_s, options.body_timeout_s);
  FS_CHECK(options.max_decodes >= 0, "--max-decodes must be >= 0 (0 = one per CPU core), got {}",
           options.max_decodes);
  FS_CHECK(options.grace_s >= 0, "--grace-s must be >= 0, got {}", options.grace_s);
  if (!is_loopback_host(options.host))
    FS_CHECK(!options.api_key.empty(),
             "--host {} can be reached from other machines: give --api-key KEY (or set "
             "FORENSIGHT_API_KEY) so that every API call must carry 'Authorization: Bearer KEY', "
             "or listen on 127.0.0.1",
             options.host);
  max_body_bytes = static_cast<size_t>(options.max_body_mb) << 20;
  max_pixels = static_cast<int64_t>(options.max_megapixels * 1e6);
  decode_slot_count = options.max_decodes > 0
                          ? options.max_decodes
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  decode_slots = std::make_unique<std::counting_semaphore<>>(decode_slot_count);
  device = parse_device(options.device);
  // Copies of a model split the CPU's cores between their forward passes; on CUDA they would only
  // queue on the one device, which a single instance's batches keep busy already.
  FS_CHECK(options.instances <= 1 || device.is_cpu(),
           "--instances {} with --device {}: instances share the CPU's cores; on CUDA give 1",
           options.instances, options.device);
  if (options.instances == 0)
    options.instances = default_instances(device.is_cpu(), at::get_num_threads());
  const eval::Precision precision = eval::parse_precision(options.precision);

  BatcherOptions batcher_options;
  batcher_options.max_batch = options.max_batch;
  batcher_options.max_wait_ms = options.max_wait_ms;
  batcher_options.queue_size = options.queue_size;
  batcher_options.worker_delay_ms = options.worker_delay_ms;
  std::map<std::string, int> seen;
  models.reserve(options.checkpoints.size());
  for (const auto& checkpoint : options.checkpoints) {
    auto detector =
        std::make_unique<eval::Detector>(eval::load_detector(checkpoint, device, precision));
    // The server's pixel limit applies in the decoder as well as in the header check.
    detector->transform.max_pixels = std::min(detector->transform.max_pixels, max_pixels);
    const int n = ++seen[detector->name()];
    std::string name = n == 1 ? detector->name() : fmt::format("{}-{}", detector->name(), n);
    spdlog::info("serve: model '{}' from {} ({}, {}, {} px, {} instance{})", name, checkpoint,
                 detector->precision, device.str(), detector->transform.image_size_px,
                 options.instances, options.instances == 1 ? "" : "s");
    Model model{name, {}, nullptr};
    model.instances.push_back(std::move(detector));
    for (int i = 1; i < options.instances; ++i) {
      model.instances.push_back(
          std::make_unique<eval::Detector>(eval::load_detector(checkpoint, device, precision)));
      model.instances.back()->transform = model.first().transform;
    }
    models.push_back(std::move(model));
  }
  for (auto& m : models) {
    std::vector<eval::Detector*> instances;
    for (auto& instance : m.instances) instances.push_back(instance.get());
    m.batcher = std::make_unique<Batcher>(std::move(instances), m.name, batcher_options, &metrics);
  }
  configure_http();
  add_routes();
}

void Server::Impl::configure_http() {
  const int threads = options.http_threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(max_body_bytes);
  http.set_read_timeout(options.io_timeout_s, 0);
  http.set_write_timeout(options.io_timeout_s, 0);
  // What the Keep-Alive header advertises; our connection loop (below) enforces them.
  http.set_keep_alive_timeout(options.keep_alive_s);
  http.set_keep_alive_max_count(static_cast<size_t>(options.keep_alive_max_requests));
  // Our connection loop (serve/http_server.h) applies these; httplib's own lack the head's limits.
  ConnectionLimits limits;
  limits.max_head_bytes = static_cast<size_t>(options.max_header_kb) << 10;
  limits.head_timeout_s = options.head_timeout_s;
  limits.body_timeout_s = options.body_timeout_s;
  // Chunked framing and a refused body's drain count too; a client framing 1-byte chunks is cut.
  limits.max_body_wire_bytes = 2 * max_body_bytes + (1 << 20);
  limits.io_timeout_s = options.io_timeout_s;
  limits.keep_alive_s = options.keep_alive_s;
  limits.keep_alive_max_requests = options.keep_alive_max_requests;
  http.set_connection_limits(limits);
  http.set_refusal_recorder([this](int status) { metrics.record_request("other", status, 0.0); });
  http.set_tcp_nodelay(true);  // headers and body are two sends: no 40 ms delayed-ACK stall
  // SO_REUSEADDR (a restart binds at once) but not httplib's default SO_REUSEPORT, with which a
  // second server would bind the same port silently; the descriptor is kept to widen the backlog.
  http.set_socket_options([this](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = fd;
  });
  http.set_default_headers({{"X-Content-Type-Options", "nosniff"}});
  http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    t_request_start = Clock::now();
    t_route = "other";
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double seconds =
        t_request_start == Clock::time_point{}
            ? 0.0
            : std::chrono::duration<double>(Clock::now() - t_request_start).count();
    metrics.record_request(t_route.empty() ? "other" : t_route, res.status, seconds);
    spdlog::debug("serve: {} {} -> {} ({:.1f} ms)", req.method, req.path, res.status,
                  seconds * 1e3);
    t_request_start = {};
    t_route.clear();
  });
  // httplib's own refusals (a malformed request line, a URI too long) come without a body; ours
  // all have a Content-Type (send_error_and_close's body is not in res.body yet). A refusal
  // because the stream passed a limit (headers too large, too slow) says which.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.has_header("Content-Type"))
          return httplib::Server::HandlerResponse::Unhandled;
        const LimitedStream* stream = LimitedStream::current();
        if (stream && stream->exceeded() != StreamLimit::kNone) {
          send_error(res, limit_status(stream->exceeded()),
                     limit_message(stream->exceeded(), http.connection_limits()));
        } else {
          send_error(res, res.status, status_text(res.status));
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  // A client that asks before sending the body ("Expect: 100-continue") hears of the limit before.
  http.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (declared_body_bytes(req) <= max_body_bytes) return 100;
    t_route = routes.count(req.path) ? req.path : "other";
    // A plain body: httplib 0.11 writes no content provider's body on this path.
    send_error(res, 413,
               fmt::format("the body is larger than the limit of {} MiB (--max-body-mb)",
                           options.max_body_mb));
    res.set_header("Connection", "close");
    return 413;
  });
  http.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        std::string message = "unknown error";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          message = e.what();
        } catch (...) {
        }
        spdlog::error("serve: {} {} failed: {}", req.method, req.path, message);
        send_error_and_close(res, 500, "internal error: " + message);
      });
  // Every path and method goes through dispatch(), which knows 404 from 405 and reads bodies
  // only for the routes that take one.
  http.Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    dispatch(req, res, nullptr);
  });
  http.Options(".*", [this](const httplib::Request& req, httplib::Response& res) {
    dispatch(req, res, nullptr);
  });
  const auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
    dispatch(req, res, &reader);
  };
  http.Post(".*", with_body);
  http.Put(".*", with_body);
  http.Patch(".*", with_body);
  http.Delete(".*", with_body);
}

void Server::Impl::add_routes() {
  routes["/healthz"].push_back(
      {"GET", false, false, [this](auto&, auto& res, auto&) {
         send_json(res, 200, {{"status", "ok"}, {"uptime_s", uptime.seconds()}});
       }});
  routes["/readyz"].push_back(
      {"GET", false, false, [this](auto&, auto& res, auto&) { handle_readyz(res); }});
  routes["/metrics"].push_back(
      {"GET", false, false, [this](auto&, auto& res, auto&) { handle_metrics(res); }});
  routes["/v1/models"].push_back({"GET", true, false, [this](auto&, auto& res, auto&) {
                                    send_json(res, 200, {{"models", models_json()}});
                                  }});
  routes["/v1/detect"].push_back({"POST", true, true, [this](auto& req, auto& res, auto& body) {
                                    handle_detect(req, res, body);
                                  }});
  routes["/v1/detect/batch"].push_back(
      {"POST", true, true,
       [this](auto& req, auto& res, auto& body) { handle_detect_batch(req, res, body); }});
  routes["/v1/report"].push_back({"POST", true, true, [this](auto& req, auto& res, auto& body) {
                                    handle_report(req, res, body);
                                  }});
#ifdef FORENSIGHT_SERVE_WEB_ASSETS
  for (const WebAsset& asset : web_assets()) {
    const std::string path(asset.path);
    routes[path].push_back(
        {"GET", false, false, [asset](auto&, auto& res, auto&) {
           res.status = 200;
           res.set_content(std::string(asset.bytes), std::string(asset.content_type));
           // The page itself is revalidated (a new build shows at once); what
           // it loads is cached for an hour.
           res.set_header("Cache-Control", asset.path == "/" ? "no-cache" : "public, max-age=3600");
         }});
  }
#endif
  if (routes.find("/") == routes.end()) {
    routes["/"].push_back({"GET", false, false, [](auto&, auto& res, auto&) {
                             res.status = 200;
                             res.set_header("Cache-Control", "no-cache");
                             res.set_content(
                                 "<!doctype html><title>Forensight</title><h1>Forensight</h1>"
                                 "<p>This build has no web app. The API: POST /v1/detect, POST "
                                 "/v1/detect/batch, GET /v1/models, GET /healthz, GET /readyz, "
                                 "GET /metrics.</p>\n",
                                 "text/html; charset=utf-8");
                           }});
  }
}

void Server::Impl::discard_body(const httplib::Request& req, const httplib::ContentReader* reader,
                                bool& must_close) {
  if (!reader) return;  // httplib has read (and size-limited) a GET's body already
  if (declared_body_bytes(req) > max_body_bytes) {  // not worth reading: close instead
    must_close = true;
    return;
  }
  size_t total = 0;
  const auto receive = [&](const char*, size_t n) {
    total += n;
    return total <= max_body_bytes;
  };
  bool ok = false;
  try {  // httplib's body parsers may throw on malformed framing: the body is then unreadable
    ok = req.is_multipart_form_data()
             ? (*reader)([](const httplib::MultipartFormData&) { return true; }, receive)
             : (*reader)(receive);
  } catch (const std::exception&) {
  }
  must_close = !ok;
}

bool Server::Impl::read_body(const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader, Body& body) {
  // A declared length over the limit is refused before a byte of the body is read: httplib would
  // read and drop all of it first, and the client would wait for the answer until it had sent it.
  if (declared_body_bytes(req) > max_body_bytes) {
    send_error_and_close(res, 413,
                         fmt::format("the body is larger than the limit of {} MiB (--max-body-mb)",
                                     options.max_body_mb));
    return false;
  }
  size_t total = 0;
  bool too_large = false;
  bool too_many_parts = false;
  bool ok = false;
  // A declared length was checked above; a chunked body has none, so the receivers count.
  try {  // httplib's body parsers may throw on malformed framing: a 400 below, not a 500
    if (req.is_multipart_form_data()) {
      ok = reader(
          [&](const httplib::MultipartFormData& part) {
            if (body.parts.size() >= static_cast<size_t>(kMaxMultipartParts)) {
              too_many_parts = true;
              return false;
            }
            body.parts.push_back(part);
            return true;
          },
          [&](const char* data, size_t n) {
            total += n;
            if (total > max_body_bytes) {
              too_large = true;
              return false;
            }
            if (!body.parts.empty()) body.parts.back().content.append(data, n);
            return true;
          });
    } else {
      ok = reader([&](const char* data, size_t n) {
        total += n;
        if (total > max_body_bytes) {
          too_large = true;
          return false;
        }
        body.raw.append(data, n);
        return true;
      });
    }
  } catch (const std::exception&) {
    ok = false;
  }
  if (ok) return true;
  const LimitedStream* stream = LimitedStream::current();
  const StreamLimit limit = stream ? stream->exceeded() : StreamLimit::kNone;
  if (limit == StreamLimit::kBodyTimeout) {
    send_error_and_close(res, limit_status(limit), limit_message(limit, http.connection_limits()));
  } else if (too_large || res.status == 413 || limit == StreamLimit::kBodyTooLarge) {
    send_error_and_close(res, 413,
                         fmt::format("the body is larger than the limit of {} MiB (--max-body-mb)",
                                     options.max_body_mb));
  } else if (too_many_parts) {
    send_error_and_close(res, 413, fmt::format("more than {} multipart parts", kMaxMultipartParts));
  } else {
    send_error_and_close(res, 400,
                         "the body could not be read: truncated, timed out, or malformed "
                         "multipart (check the boundary)");
  }
  return false;
}

void Server::Impl::dispatch(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader* reader) {
  struct InFlight {
    std::atomic<int>& n;
    explicit InFlight(std::atomic<int>& count) : n(count) { ++n; }
    ~InFlight() { --n; }
  } in_flight_guard(in_flight);
  if (t_request_start == Clock::time_point{}) t_request_start = Clock::now();
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  const auto found = routes.find(req.path);
  bool must_close = false;
  if (found == routes.end()) {
    t_route = "other";
    discard_body(req, reader, must_close);
    const std::string message = fmt::format(
        "no such path: {} (the API: POST /v1/detect, POST /v1/detect/batch, GET /v1/models, "
        "POST /v1/report, GET /healthz, GET /readyz, GET /metrics)",
        req.path);
    must_close ? send_error_and_close(res, 404, message) : send_error(res, 404, message);
    return;
  }
  t_route = req.path;
  const Route* route = nullptr;
  std::string allow;
  for (const auto& r : found->second) {
    if (r.method == method) route = &r;
    allow += (allow.empty() ? "" : ", ") + r.method + (r.method == "GET" ? ", HEAD" : "");
  }
  if (!route) {
    res.set_header("Allow", allow);
    if (method == "OPTIONS") {
      res.status = 204;
      return;
    }
    discard_body(req, reader, must_close);
    const std::string message =
        fmt::format("{} is not allowed on {}: use {}", req.method, req.path, allow);
    must_close ? send_error_and_close(res, 405, message) : send_error(res, 405, message);
    return;
  }
  if (route->api && !options.api_key.empty() &&
      !bearer_authorized(req.get_header_value("Authorization"), options.api_key)) {
    discard_body(req, reader, must_close);
    res.set_header("WWW-Authenticate", "Bearer realm=\"forensight\"");
    const std::string message =
        req.has_header("Authorization")
            ? "the API key is wrong"
            : "this server needs an API key: send 'Authorization: Bearer KEY'";
    must_close ? send_error_and_close(res, 401, message) : send_error(res, 401, message);
    return;
  }
  Body body;
  if (route->reads_body && reader && !read_body(req, res, *reader, body)) return;
  route->handle(req, res, body);
}

std::vector<Server::Impl::Model*> Server::Impl::select_models(const httplib::Request& req,
                                                              std::string& error) {
  std::vector<Model*> selected;
  const std::vector<std::string> names = split_names(req.get_param_value("models"));
  if (names.empty()) {
    for (auto& m : models) selected.push_back(&m);
    return selected;
  }
  std::set<std::string> taken;
  for (const auto& name : names) {
    auto it =
        std::find_if(models.begin(), models.end(), [&](const Model& m) { return m.name == name; });
    if (it == models.end()) {
      std::vector<std::string> valid;
      for (const auto& m : models) valid.push_back(m.name);
      error = fmt::format("unknown model '{}' in ?models=: the loaded models are {}", name,
                          fmt::join(valid, ", "));
      return {};
    }
    if (taken.insert(name).second) selected.push_back(&*it);
  }
  return selected;
}

std::vector<Batcher::Arrival> Server::Impl::expect_arrivals(const std::vector<Model*>& selected) {
  std::vector<Batcher::Arrival> arrivals;
  arrivals.reserve(selected.size());
  for (Model* m : selected) arrivals.push_back(m->batcher->expect_arrival());
  return arrivals;
}

Server::Impl::ImageJob Server::Impl::submit_image(std::string_view bytes, std::string filename,
                                                  const std::vector<Model*>& selected,
                                                  Clock::time_point deadline) {
  ImageJob job;
  job.filename = std::move(filename);
  const auto fail_with = [&](int status, std::string message) {
    job.status = status;
    job.error = std::move(message);
    return std::move(job);
  };
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (data.empty()) return fail_with(400, "the image is empty: send JPEG, PNG or WebP bytes");
  if (data::detect_format(data) == data::ImageFormat::kUnknown)
    return fail_with(400, "not an image: expected JPEG, PNG or WebP bytes");
  // The header first: an image declaring too many pixels is refused before any decoding.
  data::ImageInfo info;
  try {
    info = data::read_image_info(data);
  } catch (const Error& e) {
    return fail_with(422, fmt::format("the image's header is unreadable: {}", e.what()));
  }
  job.image = {{"format", data::format_name(info.format)},
               {"width", info.width},
               {"height", info.height},
               {"bytes", data.size()}};
  const int64_t pixels = static_cast<int64_t>(info.width) * info.height;
  if (pixels > max_pixels)
    return fail_with(422,
                     fmt::format("the image is {}x{} = {:.1f} megapixels, over the limit of "
                                 "{} (--max-megapixels)",
                                 info.width, info.height, pixels / 1e6, options.max_megapixels));
  // Models that prepare their input alike (an ensemble of one architecture) share one decode: the
  // batcher only reads its input.
  std::vector<std::pair<std::string, torch::Tensor>> prepared;  // signature -> (1, 3, H, W)
  for (Model* m : selected) {
    Timer timer;
    const std::string signature = preprocessing_signature(m->first());
    torch::Tensor input;  // (1, 3, H, W)
    for (const auto& [s, x] : prepared)
      if (s == signature) input = x;
    if (!input.defined()) {
      // A decode may take 3 bytes per pixel of the limit: only decode_slot_count run at once.
      if (!decode_slots->try_acquire_until(deadline))
        return fail_with(503, fmt::format("the server is busy decoding other images ({} at once, "
                                          "--max-decodes) past this request's deadline of {} ms: "
                                          "try again later",
                                          decode_slot_count, options.deadline_ms));
      struct SlotRelease {
        std::counting_semaphore<>& slots;
        ~SlotRelease() { slots.release(); }
      } release{*decode_slots};
      try {
        input = eval::preprocess_bytes(m->first(), data);
      } catch (const Error& e) {
        return fail_with(422, fmt::format("the image could not be decoded: {}", e.what()));
      }
      prepared.emplace_back(signature, input);
    }
    const double preprocess_ms = timer.milliseconds();
    try {
      job.pending.push_back({m, preprocess_ms, m->batcher->submit(input, deadline)});
    } catch (const QueueFullError& e) {
      return fail_with(503, e.what());
    } catch (const ShutdownError& e) {
      return fail_with(503, e.what());
    }
  }
  return job;
}

nlohmann::json Server::Impl::collect(ImageJob& job) {
  nlohmann::json answer = {{"image", job.image}};
  if (!job.filename.empty()) answer["filename"] = job.filename;
  if (job.status != 200) {
    answer["error"] = job.error;
    answer["status"] = job.status;
    return answer;  // results still pending for other models are dropped with their futures
  }
  nlohmann::json results = nlohmann::json::array();
  double sum = 0.0;
  for (auto& p : job.pending) {
    const eval::Detector& d = p.model->first();
    try {
      const BatchResult r = p.result.get();
      const int label = r.probability_fake >= options.threshold ? 1 : 0;
      results.push_back({{"model", p.model->name},
                         {"checkpoint", d.checkpoint_path},
                         {"precision", d.precision},
                         {"device", d.device.str()},
                         {"label", label},
                         {"label_name", label_name(label)},
                         {"probability_fake", r.probability_fake},
                         {"preprocess_ms", p.preprocess_ms},
                         {"queue_ms", r.queue_ms},
                         {"compute_ms", r.compute_ms},
                         {"batch_size", r.batch_size}});
      sum += r.probability_fake;
    } catch (const DeadlineError& e) {
      job.status = 503;
      job.error = e.what();
    } catch (const ShutdownError& e) {
      job.status = 503;
      job.error = e.what();
    } catch (const std::exception& e) {
      job.status = 500;
      job.error = fmt::format("model '{}' failed: {}", p.model->name, e.what());
    }
  }
  if (job.status != 200) {
    answer["error"] = job.error;
    answer["status"] = job.status;
    return answer;
  }
  answer["models"] = results;
  answer["threshold"] = options.threshold;
  if (results.size() > 1) {
    const double mean = sum / static_cast<double>(results.size());
    const int label = mean >= options.threshold ? 1 : 0;
    answer["mean"] = {
        {"probability_fake", mean}, {"label", label}, {"label_name", label_name(label)}};
  }
  return answer;
}

void Server::Impl::handle_detect(const httplib::Request& req, httplib::Response& res, Body& body) {
  const Clock::time_point deadline =
      t_request_start + std::chrono::milliseconds(options.deadline_ms);
  std::string error;
  const std::vector<Model*> selected = select_models(req, error);
  if (selected.empty()) return send_error(res, 400, error);
  std::string_view bytes = body.raw;
  std::string filename;
  if (req.is_multipart_form_data()) {
    const httplib::MultipartFormData* pick = nullptr;
    for (const auto& part : body.parts)
      if (part.name == "image") pick = pick ? pick : &part;
    for (const auto& part : body.parts)
      if (!pick && !part.filename.empty()) pick = &part;
    if (!pick)
      return send_error(res, 400,
                        "no image in the multipart body: send it as the field 'image' (or any "
                        "file part)");
    bytes = pick->content;
    filename = pick->filename;
  }
  Timer timer;
  ImageJob job;
  {
    const std::vector<Batcher::Arrival> arriving = expect_arrivals(selected);
    job = submit_image(bytes, filename, selected, deadline);
  }  // submitted: the batchers need not wait for this request any more
  nlohmann::json answer = collect(job);
  if (job.status != 200) {
    if (job.status == 503) res.set_header("Retry-After", "1");
    return send_json(res, job.status, answer);
  }
  answer["milliseconds"] = timer.milliseconds();
  send_json(res, 200, answer);
}

void Server::Impl::handle_detect_batch(const httplib::Request& req, httplib::Response& res,
                                       Body& body) {
  const Clock::time_point deadline =
      t_request_start + std::chrono::milliseconds(options.deadline_ms);
  std::string error;
  const std::vector<Model*> selected = select_models(req, error);
  if (selected.empty()) return send_error(res, 400, error);
  if (!req.is_multipart_form_data())
    return send_error(res, 400,
                      "send the images as multipart/form-data file parts (field 'images')");
  std::vector<const httplib::MultipartFormData*> images;
  for (const auto& part : body.parts)
    if (!part.filename.empty() || part.name == "image" || part.name == "images" ||
        part.name == "images[]")
      images.push_back(&part);
  if (images.empty())
    return send_error(res, 400, "no images in the multipart body: send file parts ('images')");
  if (images.size() > static_cast<size_t>(options.max_batch_images))
    return send_error(res, 413,
                      fmt::format("{} images in one request, over the limit of {} "
                                  "(--max-batch-images): split the request",
                                  images.size(), options.max_batch_images));
  Timer timer;
  // Every image is queued before any is waited for: they share forward passes.
  std::vector<ImageJob> jobs;
  jobs.reserve(images.size());
  {
    const std::vector<Batcher::Arrival> arriving = expect_arrivals(selected);
    for (const auto* part : images)
      jobs.push_back(submit_image(part->content, part->filename, selected, deadline));
  }
  nlohmann::json results = nlohmann::json::array();
  int64_t failed = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    nlohmann::json answer = collect(jobs[i]);
    answer["index"] = i;
    failed += jobs[i].status != 200 ? 1 : 0;
    results.push_back(std::move(answer));
  }
  send_json(res, 200,
            {{"results", results},
             {"images", jobs.size()},
             {"failed", failed},
             {"milliseconds", timer.milliseconds()}});
}

void Server::Impl::handle_report(const httplib::Request& req, httplib::Response& res, Body& body) {
#ifdef FORENSIGHT_SERVE_PDF_REPORT
  nlohmann::json report;
  try {
    report = nlohmann::json::parse(body.raw);
  } catch (const nlohmann::json::exception& e) {
    return send_error(res, 400, fmt::format("the body is not JSON: {}", e.what()));
  }
  if (!report.is_object() || !report.contains("analyses") || !report["analyses"].is_array())
    return send_error(res, 400, "expected a JSON object {\"analyses\": [...]}");
  std::string pdf;
  try {
    pdf = render_pdf_report(report);
  } catch (const Error& e) {
    return send_error(res, 400, fmt::format("the report could not be made: {}", e.what()));
  }
  res.status = 200;
  res.set_header("Content-Disposition", "attachment; filename=\"forensight-report.pdf\"");
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(pdf), "application/pdf");
#else
  send_error(res, 501, "this build has no PDF report (src/forensight/serve/pdf_report.h)");
#endif
}

void Server::Impl::handle_metrics(httplib::Response& res) {
  std::vector<GaugeSample> gauges;
  for (const auto& m : models)
    gauges.push_back({"forensight_queue_depth",
                      fmt::format("model=\"{}\"", escape_label_value(m.name)),
                      static_cast<double>(m.batcher->queue_depth())});
  gauges.push_back({"forensight_in_flight_requests", "", static_cast<double>(in_flight.load())});
  gauges.push_back({"forensight_ready", "", ready() ? 1.0 : 0.0});
  gauges.push_back({"forensight_uptime_seconds", "", uptime.seconds()});
  res.status = 200;
  res.set_content(metrics.render(gauges), "text/plain; version=0.0.4; charset=utf-8");
}

void Server::Impl::handle_readyz(httplib::Response& res) {
  nlohmann::json warmed = nlohmann::json::object();
  for (const auto& m : models) warmed[m.name] = m.batcher->warmed();
  if (ready()) return send_json(res, 200, {{"status", "ready"}, {"models", warmed}});
  send_json(res, 503, {{"status", draining ? "shutting down" : "warming up"}, {"models", warmed}});
}

bool Server::Impl::ready() const {
  if (draining) return false;
  return std::all_of(models.begin(), models.end(),
                     [](const Model& m) { return m.batcher->warmed(); });
}

nlohmann::json Server::Impl::models_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : models) {
    const eval::Detector& d = m.first();
    list.push_back({{"name", m.name},
                    {"architecture", d.config.model},
                    {"checkpoint", d.checkpoint_path},
                    {"precision", d.precision},
                    {"device", d.device.str()},
                    {"image_size_px", d.transform.image_size_px},
                    {"input_filter", data::input_filter_name(d.input_filter)},
                    {"threshold", options.threshold},
                    {"instances", m.batcher->instances()},
                    {"intra_op_threads", m.batcher->intra_op_threads()},
                    {"ready", m.batcher->warmed()}});
  }
  return list;
}

bool Server::Impl::stop() {
  std::unique_lock lock(lifecycle_mutex);
  if (stopped) return true;
  stopped = true;
  draining = true;
  bool drained = true;
  if (started) {
    spdlog::info("serve: stopping: no new connections, {} requests in flight", in_flight.load());
    http.stop();  // closes the listening socket; the pool finishes the connections it has
    const auto grace = std::chrono::duration<double>(options.grace_s);
    if (listener_done.wait_for(grace) != std::future_status::ready) {
      drained = false;
      spdlog::warn(
          "serve: requests still running after the {} s grace period: answering what is "
          "queued with 503",
          options.grace_s);
      for (auto& m : models) m.batcher->stop(/*cancel_queued=*/true);
    }
    listener.join();
  }
  for (auto& m : models) m.batcher->stop();
  stopped_promise.set_value();
  if (started) spdlog::info("serve: stopped");
  return drained;
}

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() {
  impl_->stop();
}

void Server::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  FS_CHECK(!s.started && !s.stopped, "the server was started already");
  const ServerOptions& o = s.options;
  if (o.port == 0) {
    s.port = s.http.bind_to_any_port(o.host);
    FS_CHECK(s.port > 0, "cannot listen on {} (any port): is the address one of this machine's?",
             o.host);
  } else {
    FS_CHECK(s.http.bind_to_port(o.host, o.port),
             "cannot listen on {}:{}: the port is taken or the address is not this machine's "
             "(try another --port)",
             o.host, o.port);
    s.port = o.port;
  }
  if (s.listen_fd >= 0) ::listen(s.listen_fd, kListenBacklog);
  std::promise<void> done;
  s.listener_done = done.get_future().share();
  s.listener = std::thread([&s, done = std::move(done)]() mutable {
    s.http.listen_after_bind();
    done.set_value();
  });
  // stop() needs httplib to be in its accept loop; it is, within microseconds.
  while (!s.http.is_running() &&
         s.listener_done.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
  }
  s.started = true;
  spdlog::info("serve: listening on http://{}:{} ({} models; API key {})", o.host, s.port,
               s.models.size(), o.api_key.empty() ? "off" : "required");
}

int Server::port() const {
  return impl_->port;
}

bool Server::ready() const {
  return impl_->ready();
}

bool Server::stop() {
  return impl_->stop();
}

void Server::wait() {
  impl_->stopped_future.wait();
}

nlohmann::json Server::models_json() const {
  return impl_->models_json();
}

std::string Server::answer_connection(std::string_view bytes) {
  MemoryStream stream(bytes, impl_->http.connection_limits());
  impl_->http.serve(stream, nullptr);
  return stream.output();
}

}  // namespace forensight::serve
