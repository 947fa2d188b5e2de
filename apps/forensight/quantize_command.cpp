// forensight quantize: a ResNet checkpoint -> the same checkpoint calibrated for int8 CPU
// inference, with a side-by-side check of int8 against fp32. The work is in src/forensight/eval.
#include <fmt/format.h>

#include <memory>

#include "commands.h"
#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/eval/quantize.h"

namespace forensight::app {
namespace {

struct QuantizeCommand {
  eval::QuantizeOptions options;
  std::string json_path;
  int threads = 0;
};

std::string metric(const nlohmann::json& report, const char* precision, const char* name) {
  if (!report.contains(precision) || report[precision][name].is_null()) return "-";
  return fmt::format("{:.4f}", report[precision][name].get<double>());
}

void run_quantize(QuantizeCommand& c) {
  set_thread_counts(c.threads, 0);
  const nlohmann::json r = eval::quantize_checkpoint(c.options);
  fmt::print("int8 checkpoint: {}\n", c.options.out_path);
  fmt::print(
      "checked on {} images: verdicts agree on {:.2f}%, P(AI) changes by {:.4f} on average "
      "(at most {:.4f})\n",
      r["images"].get<int64_t>(), 100.0 * r["verdict_agreement"].get<double>(),
      r["mean_probability_change"].get<double>(), r["max_probability_change"].get<double>());
  fmt::print("{:<6} {:>10} {:>10} {:>12}\n", "", "accuracy", "ROC-AUC", "images/s");
  for (const char* p : {"fp32", "int8"})
    fmt::print("{:<6} {:>10} {:>10} {:>12.1f}\n", p, metric(r, p, "accuracy"),
               metric(r, p, "roc_auc"), r[fmt::format("{}_images_per_s", p)].get<double>());
  if (!c.json_path.empty()) write_file_atomic(c.json_path, r.dump(2) + "\n");
}

}  // namespace

void register_quantize_command(CLI::App& app) {
  auto c = std::make_shared<QuantizeCommand>();
  auto& o = c->options;
  auto* cmd = app.add_subcommand(
      "quantize", "Calibrate a ResNet checkpoint for int8 CPU inference and check it against fp32");
  cmd->add_option("--checkpoint", o.checkpoint_path, "ResNet checkpoint from `forensight train`")
      ->required();
  cmd->add_option("--data", o.data_path, "class folders or a CSV manifest (the training data)")
      ->required();
  cmd->add_option("--out", o.out_path, "the calibrated checkpoint to write")->required();
  cmd->add_option("--calibration-split", o.calibration.split,
                  "images to calibrate on: train, val, test, all (default train)")
      ->check(CLI::IsMember({"train", "val", "test", "all"}));
  cmd->add_option("--calibration-images", o.calibration_images,
                  "calibrate on at most this many images, spread over the split (default 256)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--check-split", o.check.split,
                  "images to compare int8 with fp32 on: auto (test when the run's split file is "
                  "found, else all), test, val, train, all (default auto)")
      ->check(CLI::IsMember({"auto", "test", "val", "train", "all"}));
  cmd->add_option("--split-file", o.calibration.split_file,
                  "split.json of the run (default: the one next to the checkpoint's run)")
      ->each([c](const std::string& path) { c->options.check.split_file = path; });
  cmd->add_option("--batch-size", o.batch_size, "images per forward pass (default 32)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--workers", o.workers, "loader threads (default 2)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", c->threads, "intra-op threads (0 = LibTorch default)");
  cmd->add_option("--json", c->json_path, "also write the check as JSON to this file");
  cmd->callback([c] { run_quantize(*c); });
}

}  // namespace forensight::app
