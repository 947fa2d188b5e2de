// forensight bench: a group of benchmarks, each a subcommand (data now; train and predict later).
// Each only parses its flags and calls the benchmark in bench/.
#include <fstream>

#include "bench/data_bench.h"
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {
namespace {

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
  cmd->callback([options, json_path] {
    nlohmann::json result = bench::run_data_bench(*options);
    if (!json_path->empty()) {
      std::ofstream out(*json_path);
      if (!out) fail("cannot write --json file '{}'", *json_path);
      out << result.dump(2) << '\n';
    }
  });
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto* group =
      app.add_subcommand("bench", "Benchmarks, each against its peer measured in the same run");
  group->require_subcommand(1);
  register_bench_data(*group);
}

}  // namespace forensight::app
