// A stand-alone driver for the training-step benchmark until `forensight bench train` calls
// run_train_step_bench itself: parses the counts, prints the table on stdout and the JSON after it.
#include <CLI/CLI.hpp>

#include <iostream>

#include "bench/train_step_bench.h"
#include "forensight/core/error.h"
#include "forensight/core/log.h"

int main(int argc, char** argv) {
  forensight::bench::TrainStepBenchOptions options;
  CLI::App app("Training-step throughput, ours vs Python PyTorch");
  app.add_option("--models", options.models, "registry names (default resnet18 vit-tiny)");
  app.add_option("--threads", options.threads, "intra-op thread counts (default 1 2)");
  app.add_option("--batch", options.batch_size, "images per step (default 32)");
  app.add_option("--image-size", options.image_size_px, "input side in pixels (default 224)");
  app.add_option("--warmup", options.warmup_steps, "untimed steps (default 1)");
  app.add_option("--steps", options.timed_steps, "timed steps (default 3)");
  app.add_flag("!--no-python", options.run_python, "skip the Python peer");
  CLI11_PARSE(app, argc, argv);
  try {
    forensight::init_logging("info");
    auto results = forensight::bench::run_train_step_bench(options);
    std::cout << forensight::bench::format_train_step_table(results)
              << forensight::bench::train_step_results_json(options, results).dump() << "\n";
  } catch (const forensight::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
