// forensight bench: a group of benchmarks (data, train, predict, conv, parallel, serve), each a
// subcommand that only parses its flags and calls the benchmark in bench/, which measures ours
// against its Python peer.
#include <fmt/format.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "bench/conv_bench.h"
#include "bench/data_bench.h"
#include "bench/parallel_bench.h"
#include "bench/predict_bench.h"
#include "bench/serve_bench.h"
#include "bench/train_epoch_bench.h"
#include "bench/train_step_bench.h"
#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"

namespace forensight::app {
namespace {

void write_json(const std::string& path, const nlohmann::json& result) {
  if (path.empty()) return;
  std::ofstream out(path);
  if (!out) fail("cannot write --json file '{}'", path);
  out << result.dump(2) << '\n';
}

void register_bench_data(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "data",
      "Images/s of JPEG -> normalised 224 batches: ours (0..K workers), the decoded "
      "cache, PIL/torchvision and raw libjpeg-turbo, side by side");
  auto options = std::make_shared<bench::DataBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file (default: none)");
  cmd->add_option("--images", options->images,
                  "700x700 q90 JPEGs to generate and read (default 512)")
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--max-workers", options->max_workers,
                  "highest worker count measured (default: the machine's cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--batch-size", options->batch_size, "batch size, ours and Python (default 32)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--min-seconds", options->min_seconds,
                  "each measurement runs whole epochs for at least this long (default 3)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--work-dir", options->work_dir,
                  "where the JPEGs and the decoded cache are kept (default runs/bench-data)");
  cmd->add_option("--python", options->python,
                  "Python with torch/torchvision for the peer (default: the build's)");
  cmd->add_flag("--no-python", options->skip_python, "skip the Python peer (no ratios to it)");
  cmd->callback([options, json_path] { write_json(*json_path, bench::run_data_bench(*options)); });
}

void register_bench_train(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "train",
      "Training images/s per step (resnet18, vit-tiny; 1 and 2 threads) and one end-to-end epoch "
      "from JPEG files, against Python PyTorch in the same run");
  auto step = std::make_shared<bench::TrainStepBenchOptions>();
  auto epoch = std::make_shared<bench::TrainEpochBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  auto skip_epoch = std::make_shared<bool>(false);
  auto skip_steps = std::make_shared<bool>(false);
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file");
  cmd->add_option("--models", step->models,
                  "models for the step benchmark (default resnet18 vit-tiny)");
  cmd->add_option("--threads", step->threads, "thread counts for the step benchmark (default 1 2)");
  cmd->add_option("--batch-size", step->batch_size, "images per step (default 32)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--warmup-steps", step->warmup_steps, "untimed steps first (default 1)");
  cmd->add_option("--steps", step->timed_steps, "timed steps (default 3)")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--epoch-images", epoch->images, "images in the end-to-end epoch (default 128)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--epoch-threads", epoch->threads, "threads for the epoch (default 2)");
  cmd->add_option("--epoch-workers", epoch->workers, "loader workers for the epoch (default 2)");
  cmd->add_option("--epoch-rounds", epoch->rounds,
                  "epochs of ours then Python, alternated; the speedup is the median (default 5)")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--no-epoch", *skip_epoch, "skip the end-to-end epoch");
  cmd->add_flag("--no-steps", *skip_steps, "skip the per-step benchmark");
  auto no_python = std::make_shared<bool>(false);
  cmd->add_flag("--no-python", *no_python, "skip the Python peers (no ratios)");
  cmd->callback([=] {
    epoch->batch_size = static_cast<int>(step->batch_size);
    nlohmann::json result;
    step->run_python = !*no_python;
    epoch->skip_python = *no_python;
    if (!*skip_steps) {
      const auto steps = bench::run_train_step_bench(*step);
      fmt::print("{}", bench::format_train_step_table(steps));
      result["steps"] = bench::train_step_results_json(*step, steps);
    }
    if (!*skip_epoch) result["epoch"] = bench::run_train_epoch_bench(*epoch);
    write_json(*json_path, result);
  });
}

void register_bench_predict(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "predict", "One 700x700 JPEG to a verdict: p50/p95 latency against the Python path");
  auto options = std::make_shared<bench::PredictBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file");
  cmd->add_option("--models", options->models, "resnet18 and/or vit-tiny (default resnet18)")
      ->check(CLI::IsMember({"resnet18", "vit-tiny"}));
  cmd->add_option("--threads", options->threads, "intra-op threads, ours and Python (default 2)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--runs", options->runs, "timed predictions per round (default 30)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--rounds", options->rounds,
                  "rounds of Python then ours; figures are medians over rounds (default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--image", options->image, "a JPEG to use (default: a 700x700 q90 crop)");
  cmd->add_flag("--no-python", options->skip_python, "skip the Python peer (no ratios)");
  cmd->callback(
      [options, json_path] { write_json(*json_path, bench::run_predict_bench(*options)); });
}

void register_bench_conv(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "conv",
      "ResNet18's 3x3 backward-by-weights: our kernel against PyTorch's (oneDNN), same process");
  auto options = std::make_shared<bench::ConvBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file");
  cmd->add_option("--batch-size", options->batch_size, "images per batch (default 32)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", options->threads, "intra-op threads (default 2)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--rounds", options->rounds, "timed calls of each kernel (default 5)")
      ->check(CLI::Range(1, 1000));
  cmd->callback([options, json_path] { write_json(*json_path, bench::run_conv_bench(*options)); });
}

void register_bench_parallel(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "parallel",
      "Data parallel (2 ranks vs 1 process, vs PyTorch DDP), pipeline vs naive model placement, "
      "bf16 vs fp32: images/s of training steps, same run");
  auto options = std::make_shared<bench::ParallelBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file");
  cmd->add_option("--models", options->models, "models (default resnet18 vit-tiny)")
      ->check(CLI::IsMember({"resnet18", "vit-tiny", "vit-small"}));
  cmd->add_option("--parts", options->parts, "comparisons to run (default ddp pipeline amp)")
      ->check(CLI::IsMember({"ddp", "pipeline", "amp"}));
  cmd->add_option("--batch-size", options->batch_size, "images per rank and step (default 32)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--image-size", options->image_size_px, "input side in pixels (default 224)")
      ->check(CLI::Range(32, 1024));
  cmd->add_option("--warmup", options->warmup_steps, "untimed steps first (default 2)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--steps", options->timed_steps, "timed steps, median reported (default 6)")
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--micro-batches", options->micro_batches, "pipeline micro-batches (default 4)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--ddp-rounds", options->ddp_rounds,
                  "times ours and PyTorch's DDP 2 x 1 are run, alternating which goes first; the "
                  "ratio reported is the median of the rounds' (default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--work-dir", options->work_dir,
                  "dataset, cache and runs (default runs/bench-parallel)");
  cmd->add_option("--python", options->python, "Python with torch for the peers");
  cmd->add_flag("--no-python", options->skip_python, "skip the PyTorch peers (no ratios to them)");
  cmd->callback([options, json_path] {
    options->binary = self_executable();
    write_json(*json_path, bench::run_parallel_bench(*options));
  });
}

void register_bench_serve(CLI::App& group) {
  auto* cmd = group.add_subcommand(
      "serve",
      "forensight serve under a closed-loop HTTP load (int8 and fp32, dynamic batching on and "
      "off) against a FastAPI + uvicorn peer and offline eval: images/s, p50/p90/p99, errors");
  auto options = std::make_shared<bench::ServeBenchOptions>();
  auto json_path = std::make_shared<std::string>();
  auto server_flags = std::make_shared<std::string>();
  auto no_unbatched = std::make_shared<bool>(false);
  cmd->add_option("--json", *json_path, "write every figure as JSON to this file");
  cmd->add_option("--checkpoint", options->checkpoint,
                  "ResNet18 checkpoint to serve (default: one trained here for 2 steps, 224 px)");
  cmd->add_option("--precisions", options->precisions,
                  "our engines, a server each (default int8 fp32; int8 is calibrated with "
                  "`forensight quantize` when the checkpoint is not)")
      ->check(CLI::IsMember({"int8", "fp32"}));
  cmd->add_option("--concurrency", options->concurrency,
                  "connections, each with one request in flight (default 1 8 32)")
      ->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-unbatched", *no_unbatched,
                "skip the servers without dynamic batching (--max-batch 1)");
  cmd->add_option("--warmup", options->warmup_s, "seconds of load before each point (default 1)")
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--duration", options->duration_s, "seconds recorded per point (default 5)")
      ->check(CLI::Range(0.01, 3600.0));
  cmd->add_option("--requests", options->requests,
                  "also end a point after this many recorded requests (default 0 = no cap)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--images", options->images, "JPEGs from `data synth` sent in turn (default 32)")
      ->check(CLI::Range(2, 100000));
  cmd->add_option("--image-size", options->image_size_px, "their side in pixels (default 256)")
      ->check(CLI::Range(32, 2048));
  cmd->add_option("--threads", options->threads,
                  "intra-op threads, ours and Python (default 0 = the machine's cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--offline-images", options->offline_images,
                  "images of the offline eval pass, the set repeated (default 128)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--no-offline", options->skip_offline, "skip the offline eval figure");
  cmd->add_flag("--no-python", options->skip_python, "skip the Python peer (no ratios to it)");
  cmd->add_option("--server-flags", *server_flags,
                  "more `forensight serve` flags for our servers, one string (default none), "
                  "e.g. \"--http-threads 64\"");
  cmd->add_option("--work-dir", options->work_dir,
                  "images, checkpoints and server logs (default runs/bench-serve)");
  cmd->add_option("--python", options->python, "Python with torch, FastAPI and uvicorn");
  cmd->callback([options, json_path, server_flags, no_unbatched] {
    options->binary = self_executable();
    options->unbatched = !*no_unbatched;
    std::istringstream words(*server_flags);
    for (std::string word; words >> word;) options->server_flags.push_back(word);
    write_json(*json_path, bench::run_serve_bench(*options));
  });
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto* group =
      app.add_subcommand("bench", "Benchmarks, each against its peer measured in the same run");
  group->require_subcommand(1);
  register_bench_data(*group);
  register_bench_train(*group);
  register_bench_predict(*group);
  register_bench_conv(*group);
  register_bench_parallel(*group);
  register_bench_serve(*group);
}

}  // namespace forensight::app
