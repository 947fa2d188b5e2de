#include "bench/serve_bench.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include "bench/http_load.h"
#include "bench/python_peer.h"
#include "bench/server_process.h"
#include "bench/statistics.h"
#include "forensight/core/cpu_info.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/core/source_dir.h"
#include "forensight/data/dataset.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/loader.h"
#include "forensight/data/synth.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/inference.h"
#include "forensight/eval/metrics.h"
#include "forensight/eval/predictor.h"
#include "forensight/serve/server.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/train_options.h"

namespace forensight::bench {
namespace {

// The value a `--server-flags` word list gives NAME ("--max-batch 16" or "--max-batch=16"; the last
// one given), else FALLBACK: so the table names the batching that ran, not the default.
std::string server_flag(const std::vector<std::string>& flags, const std::string& name,
                        const std::string& fallback) {
  std::string value = fallback;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] == name && i + 1 < flags.size()) value = flags[i + 1];
    if (flags[i].rfind(name + "=", 0) == 0) value = flags[i].substr(name.size() + 1);
  }
  return value;
}

namespace fs = std::filesystem;

constexpr double kReadyTimeoutS = 180.0;  // a server's load and warm-up on a busy 2-core machine
// A served answer against the same engine in this process (predict's path, one image): the same
// code on the same bytes, so only float rounding may differ.
constexpr double kSameEngineTolerance = 1e-3;
// Ours (fp32) against the Python peer: the decoders differ (ours scales JPEG DCTs down to the
// smallest size >= the model's input, 256 -> 224 px here; PIL decodes whole and resizes), and the
// barely trained model's P(AI) moves with those pixels: up to 0.08 measured on the 256 px synth
// JPEGs, while a PNG of one of them gives the same P(AI) to 4 digits in both. A warning only.
constexpr double kPythonTolerance = 0.2;

// The targets (#15, section 3).
constexpr double kBatchedOverUnbatched = 1.3;
constexpr double kServedOverOffline = 0.8;
constexpr double kP99LimitMs = 100.0;
constexpr int kP99Concurrency = 8;
constexpr double kOursOverPython = 3.0;

struct BenchImages {
  std::string dir;                 // class folders and train.csv from `data synth`
  std::vector<std::string> paths;  // sorted
  std::vector<std::string> bytes;  // each file's bytes, what the load sends
};

struct BenchModel {
  std::string checkpoint;       // fp32 weights (maybe calibrated as well)
  std::string int8_checkpoint;  // calibrated; "" when int8 is not measured
  std::string weights;          // torchvision state dict for the Python peer; "" when skipped
  train::TrainOptions config;   // the checkpoint's own
};

// One server of the comparison and what the load measured on it.
struct ServerRun {
  std::string name;       // "forensight int8, batched", "python fastapi"
  std::string kind;       // forensight or python
  std::string precision;  // int8 or fp32
  bool batched = false;
  std::string batching;  // "max 8 / 5 ms", "max 16 / 5 ms, 2 instances", "off (max 1)", "none"
  std::string engine;    // what the server says it runs
  std::string checkpoint;
  std::string command;
  std::string log_path;
  int exit_status = -1;
  std::vector<double> probabilities;  // the check's answer per image
  std::vector<HttpLoadResult> points;
  std::vector<double> server_cpu_s;  // per point: the server process's CPU seconds over its load
};

// What share of the machine (all its logical cores over the load's wall time) `cpu_s` is.
double machine_share(double cpu_s, double wall_s) {
  return cpu_s / (std::max(wall_s, 1e-9) * std::max(1, cpu_info().logical_cores));
}

void run_step(const std::vector<std::string>& argv, const std::string& log_path,
              const std::string& what) {
  spdlog::info("bench serve: {}", what);
  const ProcessResult r = run_process(argv, {.log_path = log_path, .timeout_s = 1800});
  FS_CHECK(r.exit_code == 0, "bench serve: {} failed (exit status {}): {}\nits log ({}) ends:\n{}",
           what, r.exit_code, shell_join(argv), log_path, tail_of_file(log_path));
}

BenchImages prepare_images(const ServeBenchOptions& o) {
  BenchImages images;
  images.dir =
      (fs::path(o.work_dir) / fmt::format("images-{}x{}", o.images, o.image_size_px)).string();
  if (!fs::exists(fs::path(images.dir) / "train.csv")) {
    fs::remove_all(images.dir);
    data::SynthOptions synth;
    synth.out_dir = images.dir;
    synth.count = o.images;
    synth.size_px = o.image_size_px;
    synth.seed = 1;
    spdlog::info("bench serve: {} JPEGs of {} px into {}", o.images, o.image_size_px, images.dir);
    data::synthesize_dataset(synth);
  }
  for (const auto& entry : fs::recursive_directory_iterator(images.dir))
    if (entry.path().extension() == ".jpg") images.paths.push_back(entry.path().string());
  std::sort(images.paths.begin(), images.paths.end());
  FS_CHECK(!images.paths.empty(), "no JPEG in '{}': delete the folder and run again", images.dir);
  for (const auto& path : images.paths) {
    const std::vector<uint8_t> bytes = data::read_file_bytes(path);
    images.bytes.emplace_back(bytes.begin(), bytes.end());
  }
  return images;
}

train::TrainOptions checkpoint_config(const std::string& path) {
  const train::Checkpoint header = train::read_checkpoint_header(path);
  return train::train_options_from_json(nlohmann::json::parse(header.config_json),
                                        path + " (config)");
}

// The checkpoint to serve (trained here when none is given), its calibrated int8 copy and its
// weights in torchvision's layout for the Python peer.
BenchModel prepare_model(const ServeBenchOptions& o, const BenchImages& images, int threads) {
  const fs::path dir = fs::path(o.work_dir) / "model";
  fs::create_directories(dir);
  const std::string log = (dir / "prepare.log").string();
  const std::string manifest = (fs::path(images.dir) / "train.csv").string();
  BenchModel m;
  m.checkpoint = o.checkpoint;
  if (m.checkpoint.empty()) {
    // A few steps are enough: the speed of a forward pass does not depend on the weights.
    const std::string run = (dir / "run").string();
    fs::remove_all(run);
    run_step({o.binary,       "train",
              "--preset",     "resnet18",
              "--data",       manifest,
              "--out",        run,
              "--epochs",     "1",
              "--max-steps",  "2",
              "--batch-size", "8",
              "--split",      "0.75/0.25/0",
              "--threads",    std::to_string(threads),
              "--workers",    "1",
              "--seed",       "1"},
             log, "training a ResNet18 for 2 steps (224 px) to serve");
    m.checkpoint = run + "/checkpoints/last.pt";
  }
  m.config = checkpoint_config(m.checkpoint);
  const bool wants_int8 =
      std::find(o.precisions.begin(), o.precisions.end(), "int8") != o.precisions.end();
  if (wants_int8) {
    FS_CHECK(m.config.model.starts_with("resnet"),
             "int8 serving needs a ResNet checkpoint; '{}' is a {}: pass --precisions fp32",
             m.checkpoint, m.config.model);
    if (train::read_checkpoint_header(m.checkpoint).int8_ranges.defined()) {
      m.int8_checkpoint = m.checkpoint;
    } else {
      m.int8_checkpoint = (dir / "int8.pt").string();
      run_step({o.binary, "quantize", "--checkpoint", m.checkpoint, "--data", manifest, "--out",
                m.int8_checkpoint, "--calibration-split", "all", "--check-split", "all",
                "--threads", std::to_string(threads)},
               log, "calibrating the checkpoint for int8 (forensight quantize)");
    }
  }
  if (!o.skip_python) {
    FS_CHECK(m.config.model == "resnet18" && m.config.size_mode == "resize",
             "the Python peer serves torchvision's resnet18 with Resize((S, S)); '{}' is a {} "
             "({}): pass --no-python",
             m.checkpoint, m.config.model, m.config.size_mode);
    // `forensight export`: the float weights with torchvision's names, as a Python user gets them.
    m.weights = (dir / "resnet18.safetensors").string();
    run_step(
        {o.binary, "export", "--checkpoint", m.checkpoint, "--out", m.weights, "--sidecar", "-"},
        log, "exporting the weights for the Python peer (forensight export)");
  }
  return m;
}

// `forensight eval`'s pass over the same images (its loader: batch 64, 2 workers, from the files)
// on the same engine, in this process: the median images/s of three passes after a warm-up pass.
// Single passes of fp32 moved between ~40 and ~100 images/s on the 2-core VM, so one is not enough.
nlohmann::json measure_offline(const ServeBenchOptions& o, const BenchImages& images,
                               const std::string& checkpoint, const std::string& precision) {
  constexpr int kTimedPasses = 3;
  eval::Detector detector =
      eval::load_detector(checkpoint, torch::kCPU, eval::parse_precision(precision));
  const data::Dataset dataset = data::load_dataset(images.dir);
  std::vector<int64_t> indices;
  const int64_t n = static_cast<int64_t>(dataset.samples.size());
  for (int64_t i = 0; i < std::max<int64_t>(o.offline_images, 1); ++i) indices.push_back(i % n);
  data::LoaderOptions loader_options;
  loader_options.batch_size = 64;  // eval's --batch-size and --workers defaults
  loader_options.workers = 2;
  loader_options.shuffle = false;
  std::vector<double> per_pass;
  for (int pass = 0; pass <= kTimedPasses; ++pass) {  // pass 0 allocates and picks kernels
    data::DataLoader loader(dataset, indices, detector.transform, loader_options);
    const eval::InferenceResult result =
        eval::run_inference(*detector.model, loader, eval::inference_options(detector));
    if (pass > 0) per_pass.push_back(static_cast<double>(result.scores.size()) / result.seconds);
  }
  const double images_per_s = median(per_pass);
  spdlog::info("bench serve: offline ({}): {:.1f} images/s (passes: {:.1f})", detector.precision,
               images_per_s, fmt::join(per_pass, ", "));
  return {{"precision", precision},
          {"engine", detector.precision},
          {"images", indices.size()},
          {"images_per_s", images_per_s},
          {"images_per_s_per_pass", per_pass},
          {"batch_size", loader_options.batch_size},
          {"workers", loader_options.workers}};
}

// P(AI) of the first model in an answer of ours or of the peer.
double probability_of(const HttpAnswer& answer, const std::string& server, size_t image) {
  FS_CHECK(answer.status == 200, "{} answered image {} with HTTP {}: {}", server, image,
           answer.status, answer.body.substr(0, 500));
  const auto json = nlohmann::json::parse(answer.body, nullptr, /*allow_exceptions=*/false);
  FS_CHECK(json.is_object() && json.contains("models") && json["models"].is_array() &&
               !json["models"].empty() && json["models"][0].contains("probability_fake"),
           "{} answered image {} without models[0].probability_fake: {}", server, image,
           answer.body.substr(0, 500));
  const double p = json["models"][0]["probability_fake"].get<double>();
  FS_CHECK(std::isfinite(p) && p >= 0 && p <= 1, "{} gave P(AI) = {} for image {}", server, p,
           image);
  return p;
}

// Starts the server, checks every image's answer, runs the load at each concurrency, stops it.
void measure_server(ServerRun& run, std::vector<std::string> argv, int port,
                    const ServeBenchOptions& o, const BenchImages& images) {
  run.log_path =
      (fs::path(o.work_dir) / "logs" /
       (run.kind + "-" + run.precision + "-" + (run.batched ? "batched" : "unbatched") + ".log"))
          .string();
  fs::create_directories(fs::path(run.log_path).parent_path());
  fs::remove(run.log_path);
  spdlog::info("bench serve: starting {}", run.name);
  ServerProcess server(std::move(argv), run.log_path);
  run.command = server.command();
  server.wait_until_ready([&] { return http_get(port, "/readyz").status == 200; }, kReadyTimeoutS);
  if (run.kind == "forensight") {
    const auto models = nlohmann::json::parse(http_get(port, "/v1/models").body, nullptr, false);
    if (models.is_object() && models.contains("models") && !models["models"].empty())
      run.engine = models["models"][0].value("precision", "");
  }
  // Correctness before timing: every image answered with a probability, one at a time.
  for (size_t i = 0; i < images.bytes.size(); ++i)
    run.probabilities.push_back(
        probability_of(http_post(port, "/v1/detect", images.bytes[i], "image/jpeg"), run.name, i));
  for (int c : o.concurrency) {
    HttpLoadOptions load;
    load.port = port;
    load.concurrency = c;
    load.warmup_s = o.warmup_s;
    load.duration_s = o.duration_s;
    load.max_requests = o.requests;
    const double server_cpu_before = server.cpu_seconds();
    const HttpLoadResult r = run_http_load(load, images.bytes);
    run.server_cpu_s.push_back(server.cpu_seconds() - server_cpu_before);
    spdlog::info(
        "bench serve: {} at concurrency {}: {:.1f} images/s, p50 {:.1f} ms, p99 {:.1f} ms, {} "
        "errors of {}; CPU: server {:.0f}%, load generator {:.0f}% of the machine",
        run.name, c, r.images_per_s, r.p50_ms, r.p99_ms, r.errors, r.requests,
        100 * machine_share(run.server_cpu_s.back(), r.wall_s),
        100 * machine_share(r.client_cpu_s, r.wall_s));
    run.points.push_back(r);
  }
  run.exit_status = server.stop();
  if (run.exit_status != 0)
    spdlog::warn("bench serve: {} exited with status {} (log {})", run.name, run.exit_status,
                 run.log_path);
}

nlohmann::json point_json(const HttpLoadResult& r, double server_cpu_s) {
  nlohmann::json j = {
      {"concurrency", r.concurrency},
      {"wall_s", r.wall_s},
      {"client_cpu_s", r.client_cpu_s},
      {"client_cpu_share", machine_share(r.client_cpu_s, r.wall_s)},
      {"server_cpu_s", eval::number_or_null(server_cpu_s)},
      {"server_cpu_share", eval::number_or_null(machine_share(server_cpu_s, r.wall_s))},
      {"requests", r.requests},
      {"errors", r.errors},
      {"seconds", r.seconds},
      {"images_per_s", r.images_per_s},
      {"p50_ms", r.p50_ms},
      {"p90_ms", r.p90_ms},
      {"p99_ms", r.p99_ms},
      {"max_ms", r.max_ms},
      {"mean_batch_size", r.mean_batch_size}};
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

nlohmann::json server_json(const ServerRun& run) {
  nlohmann::json points = nlohmann::json::array();
  for (size_t i = 0; i < run.points.size(); ++i)
    points.push_back(point_json(run.points[i], run.server_cpu_s[i]));
  return {{"name", run.name},
          {"kind", run.kind},
          {"precision", run.precision},
          {"engine", run.engine},
          {"batched", run.batched},
          {"batching", run.batching},
          {"checkpoint", run.checkpoint},
          {"command", run.command},
          {"log", run.log_path},
          {"exit_status", run.exit_status},
          {"points", points}};
}

const HttpLoadResult* point_at(const ServerRun* run, int concurrency) {
  if (!run) return nullptr;
  for (const auto& p : run->points)
    if (p.concurrency == concurrency) return &p;
  return nullptr;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

// Targets as a list of {name, value, threshold, met}; each one judged on this run's figures.
nlohmann::json judge_targets(const ServeBenchOptions& o, const std::vector<ServerRun>& runs,
                             const std::map<std::string, double>& offline_images_per_s) {
  const auto find = [&](const std::string& kind, const std::string& precision, bool batched) {
    for (const auto& r : runs)
      if (r.kind == kind && r.precision == precision && r.batched == batched) return &r;
    return static_cast<const ServerRun*>(nullptr);
  };
  const int high = *std::max_element(o.concurrency.begin(), o.concurrency.end());
  const ServerRun* python = find("python", "fp32", false);
  nlohmann::json targets = nlohmann::json::array();
  const auto add = [&](std::string name, double value, double threshold, bool met, std::string unit,
                       std::string note = "") {
    nlohmann::json t = {{"name", std::move(name)},
                        {"value", value},
                        {"threshold", threshold},
                        {"met", met},
                        {"unit", unit}};
    if (!note.empty()) t["note"] = std::move(note);
    targets.push_back(std::move(t));
  };
  for (const auto& precision : o.precisions) {
    const ServerRun* batched = find("forensight", precision, true);
    const HttpLoadResult* top = point_at(batched, high);
    if (!top) continue;
    const std::string engine = batched->engine.empty() ? precision : batched->engine;
    if (const HttpLoadResult* off = point_at(find("forensight", precision, false), high)) {
      const double ratio = top->images_per_s / std::max(off->images_per_s, 1e-9);
      add(fmt::format("{}: batched >= {}x unbatched throughput at concurrency {}", engine,
                      kBatchedOverUnbatched, high),
          ratio, kBatchedOverUnbatched, ratio >= kBatchedOverUnbatched, "x");
    }
    if (auto it = offline_images_per_s.find(precision); it != offline_images_per_s.end()) {
      const double share = top->images_per_s / it->second;
      // The offline pass has the whole machine; the served one shares it with the load generator,
      // so say how much each had: a server held to its CPU share cannot reach the offline rate.
      const size_t top_index = static_cast<size_t>(top - batched->points.data());
      const double server_share = machine_share(batched->server_cpu_s[top_index], top->wall_s);
      const double client_share = machine_share(top->client_cpu_s, top->wall_s);
      add(fmt::format("{}: served (batched, concurrency {}) >= {:.0f}% of offline eval images/s",
                      engine, high, 100 * kServedOverOffline),
          share, kServedOverOffline, share >= kServedOverOffline, "share",
          fmt::format("during the load the server used {:.0f}% of the machine's CPU and the load "
                      "generator {:.0f}%",
                      100 * server_share, 100 * client_share));
    }
    if (const HttpLoadResult* mid = point_at(batched, kP99Concurrency))
      add(fmt::format("{}: p99 <= {:.0f} ms at concurrency {} (batched)", engine, kP99LimitMs,
                      kP99Concurrency),
          mid->p99_ms, kP99LimitMs, mid->p99_ms <= kP99LimitMs && mid->errors == 0, "ms");
    if (const HttpLoadResult* peer = point_at(python, high)) {
      const double ratio = top->images_per_s / std::max(peer->images_per_s, 1e-9);
      add(fmt::format("{}: >= {}x the Python peer's throughput at concurrency {}, lower p99 "
                      "({:.0f} vs {:.0f} ms)",
                      engine, kOursOverPython, high, top->p99_ms, peer->p99_ms),
          ratio, kOursOverPython, ratio >= kOursOverPython && top->p99_ms < peer->p99_ms, "x");
    }
  }
  return targets;
}

std::string format_table(const std::vector<ServerRun>& runs) {
  // CPU columns: the server's and the load generator's share of the whole machine over the load.
  std::string table =
      fmt::format("{:<30} {:<15} {:<26} {:>5} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>7} {:>7}\n",
                  "server", "engine", "batching", "conc", "img/s", "p50 ms", "p90 ms", "p99 ms",
                  "errors", "batch", "srv CPU", "load CPU");
  const auto percent = [](double share) {
    return std::isfinite(share) ? fmt::format("{:.0f}%", 100 * share) : "-";
  };
  for (const auto& run : runs)
    for (size_t i = 0; i < run.points.size(); ++i) {
      const HttpLoadResult& p = run.points[i];
      table += fmt::format(
          "{:<30} {:<15} {:<26} {:>5} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f} {:>7} {:>6} {:>7} "
          "{:>7}\n",
          run.name, run.engine, run.batching, p.concurrency, p.images_per_s, p.p50_ms, p.p90_ms,
          p.p99_ms, fmt::format("{}/{}", p.errors, p.requests),
          p.mean_batch_size > 0 ? fmt::format("{:.1f}", p.mean_batch_size) : "-",
          percent(machine_share(run.server_cpu_s[i], p.wall_s)),
          percent(machine_share(p.client_cpu_s, p.wall_s)));
    }
  return table;
}

}  // namespace

nlohmann::json run_serve_bench(const ServeBenchOptions& o) {
  FS_CHECK(!o.binary.empty(), "bench serve: the forensight executable is unknown");
  FS_CHECK(http_load_available(),
           "bench serve needs cpp-httplib: install libcpp-httplib-dev (scripts/bootstrap.sh) and "
           "rebuild");
  FS_CHECK(!o.concurrency.empty(), "bench serve: give at least one --concurrency");
  for (int c : o.concurrency)
    FS_CHECK(c >= 1 && c <= 4096, "--concurrency must be in [1, 4096], got {}", c);
  for (const auto& p : o.precisions)
    FS_CHECK(p == "int8" || p == "fp32", "unknown precision '{}': valid ones are int8, fp32", p);
  FS_CHECK(o.duration_s > 0 && o.warmup_s >= 0, "--duration must be > 0 and --warmup >= 0");
  FS_CHECK(o.images >= 2, "--images must be >= 2, got {}", o.images);
  const int threads = o.threads > 0 ? o.threads : std::max(1, cpu_info().logical_cores);
  set_thread_counts(threads, 0);
  fs::create_directories(o.work_dir);
  fmt::print("CPU: {}\n", cpu_info().summary());

  const BenchImages images = prepare_images(o);
  const BenchModel model = prepare_model(o, images, threads);
  const auto checkpoint_for = [&](const std::string& precision) {
    return precision == "int8" ? model.int8_checkpoint : model.checkpoint;
  };

  // Offline first, in this process, while no server runs.
  std::map<std::string, double> offline_images_per_s;
  nlohmann::json offline = nlohmann::json::array();
  if (!o.skip_offline) {
    for (const auto& precision : o.precisions) {
      offline.push_back(measure_offline(o, images, checkpoint_for(precision), precision));
      offline_images_per_s[precision] = offline.back()["images_per_s"].get<double>();
    }
  }

  const serve::ServerOptions server_defaults;
  std::vector<ServerRun> runs;
  for (const auto& precision : o.precisions) {
    for (const bool batched : {true, false}) {
      if (!batched && !o.unbatched) continue;
      ServerRun run;
      run.kind = "forensight";
      run.precision = precision;
      run.batched = batched;
      run.name = fmt::format("forensight {}, {}", precision, batched ? "batched" : "unbatched");
      run.batching = batched
                         ? fmt::format("max {} / {} ms",
                                       server_flag(o.server_flags, "--max-batch",
                                                   std::to_string(server_defaults.max_batch)),
                                       server_flag(o.server_flags, "--max-wait-ms",
                                                   fmt::format("{}", server_defaults.max_wait_ms)))
                         : "off (max 1)";
      std::string instances = server_flag(o.server_flags, "--instances", "0");
      if (instances == "0")
        instances = std::to_string(serve::default_instances(/*on_cpu=*/true, threads));
      if (instances != "1") run.batching += fmt::format(", {} instances", instances);
      run.checkpoint = checkpoint_for(precision);
      const int port = free_port();
      std::vector<std::string> argv = {o.binary,       "serve",
                                       "--checkpoint", run.checkpoint,
                                       "--port",       std::to_string(port),
                                       "--threads",    std::to_string(threads),
                                       "--precision",  precision};
      if (!batched) argv.insert(argv.end(), {"--max-batch", "1"});
      argv.insert(argv.end(), o.server_flags.begin(), o.server_flags.end());
      measure_server(run, std::move(argv), port, o, images);
      runs.push_back(std::move(run));
    }
  }
  if (!o.skip_python) {
    ServerRun run;
    run.kind = "python";
    run.precision = "fp32";
    run.name = "python fastapi+uvicorn";
    run.engine = "fp32 (eager)";
    run.batching = "none";
    run.checkpoint = model.weights;
    const int port = free_port();
    measure_server(
        run,
        {o.python, core::source_dir() + "/bench/python/serve_peer.py", "--weights", model.weights,
         "--port", std::to_string(port), "--threads", std::to_string(threads), "--image-size",
         std::to_string(model.config.image_size_px), "--normalization", model.config.normalization},
        port, o, images);
    runs.push_back(std::move(run));
  }

  // The answers of the check: each server of ours against the same engine in this process, and
  // ours in fp32 against the Python peer.
  nlohmann::json agreement = nlohmann::json::object();
  std::map<std::string, std::vector<double>> in_process;
  for (const auto& precision : o.precisions) {
    eval::Detector detector = eval::load_detector(checkpoint_for(precision), torch::kCPU,
                                                  eval::parse_precision(precision));
    auto& expected = in_process[precision];
    for (size_t i = 0; i < images.bytes.size(); ++i)
      expected.push_back(
          eval::predict_bytes(detector,
                              std::span(reinterpret_cast<const uint8_t*>(images.bytes[i].data()),
                                        images.bytes[i].size()),
                              images.paths[i])
              .probability_fake);
  }
  for (const auto& run : runs) {
    if (run.kind != "forensight") continue;
    const double d = max_abs_difference(run.probabilities, in_process[run.precision]);
    agreement[run.name + " vs in-process"] = d;
    FS_CHECK(d <= kSameEngineTolerance,
             "{} answered P(AI) up to {} away from the same engine in this process (tolerance "
             "{}): the server computes something else",
             run.name, d, kSameEngineTolerance);
  }
  if (!o.skip_python && in_process.count("fp32")) {
    const double d = max_abs_difference(runs.back().probabilities, in_process["fp32"]);
    agreement["python vs forensight fp32"] = d;
    if (d > kPythonTolerance)
      spdlog::warn(
          "bench serve: the Python peer's P(AI) differs from ours (fp32) by up to {:.4f}: check "
          "that both serve the same weights ({})",
          d, model.weights);
  }

  const nlohmann::json targets = judge_targets(o, runs, offline_images_per_s);
  fmt::print(
      "\nserving under load: {} images of {} px, POST /v1/detect raw body, {} s per point "
      "after {} s warm-up, {} intra-op threads\n{}",
      images.bytes.size(), o.image_size_px, o.duration_s, o.warmup_s, threads, format_table(runs));
  for (const auto& off : offline)
    fmt::print(
        "offline eval ({}): {:.1f} images/s (median of passes at {:.1f}; batch {}, {} workers, "
        "{} images)\n",
        off["engine"].get<std::string>(), off["images_per_s"].get<double>(),
        fmt::join(off["images_per_s_per_pass"].get<std::vector<double>>(), ", "),
        off["batch_size"].get<int>(), off["workers"].get<int>(), off["images"].get<int64_t>());
  for (const auto& [name, d] : agreement.items())
    fmt::print("max |P(AI) difference|, {}: {:.2g}\n", name, d.get<double>());
  fmt::print("targets:\n");
  for (const auto& t : targets)
    fmt::print("  [{}] {}: {:.3g}{}{}\n", t["met"].get<bool>() ? "met" : "MISSED",
               t["name"].get<std::string>(), t["value"].get<double>(),
               t["unit"] == "x" ? "x" : (t["unit"] == "ms" ? " ms" : ""),
               t.contains("note") ? " (" + t["note"].get<std::string>() + ")" : "");

  nlohmann::json servers = nlohmann::json::array();
  for (const auto& run : runs) servers.push_back(server_json(run));
  return {{"cpu", cpu_info().to_json()},
          {"threads", threads},
          {"concurrency", o.concurrency},
          {"warmup_s", o.warmup_s},
          {"duration_s", o.duration_s},
          {"requests_cap", o.requests},
          {"server_flags", o.server_flags},
          {"images",
           {{"dir", images.dir}, {"count", images.bytes.size()}, {"size_px", o.image_size_px}}},
          {"model",
           {{"checkpoint", model.checkpoint},
            {"int8_checkpoint", model.int8_checkpoint},
            {"python_weights", model.weights},
            {"architecture", model.config.model},
            {"image_size_px", model.config.image_size_px}}},
          {"servers", servers},
          {"offline", offline},
          {"agreement", agreement},
          {"targets", targets}};
}

}  // namespace forensight::bench
