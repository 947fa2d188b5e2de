// forensight eval: a checkpoint on a labelled set (its held-out split by default) -> metrics,
// per-source rows, ROC plot, robustness sweep, report. The work is in src/forensight/eval.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

#include "commands.h"
#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/eval/evaluate.h"
#include "forensight/eval/split_choice.h"
#include "forensight/parallel/distribution.h"

namespace forensight::app {
namespace {

struct EvalCommand {
  std::string checkpoint;
  std::string data_path;
  eval::SplitChoice split;
  std::string json_path;
  std::string report_dir;
  std::string device = "cpu";
  std::string precision = "auto";
  int threads = 0;
  eval::EvaluateOptions options;
};

void run_eval(EvalCommand& c) {
  set_thread_counts(c.threads, 0);
  // Under `forensight launch` (or torchrun, srun) the images are sharded over the ranks and rank 0
  // prints and writes the single-process report.
  parallel::Distribution distribution(
      parallel::DistributionOptions{.rendezvous = parallel::rendezvous_from_environment()});
  if (!distribution.is_main()) spdlog::set_level(spdlog::level::warn);
  c.options.distribution = &distribution;
  eval::Detector detector =
      eval::load_detector(c.checkpoint, parse_device(c.device), eval::parse_precision(c.precision));
  const data::Dataset dataset = data::load_dataset(c.data_path);
  const auto indices = eval::choose_split(c.split, c.checkpoint, dataset);
  c.options.report_dir = c.report_dir;
  const nlohmann::json report = eval::evaluate(detector, dataset, indices, c.options);
  if (!distribution.is_main()) return;
  const auto& m = report.at("metrics");
  fmt::print("images {}  accuracy {:.4f}  ROC-AUC {}  AP {}  EER {}  macro-F1 {:.4f}\n",
             m.at("count").get<int64_t>(), m.at("accuracy").get<double>(), m.at("roc_auc").dump(),
             m.at("average_precision").dump(), m.at("equal_error_rate").dump(),
             m.at("macro_f1").get<double>());
  if (!c.json_path.empty()) write_file_atomic(c.json_path, report.dump(2) + "\n");
}

}  // namespace

void register_eval_command(CLI::App& app) {
  auto c = std::make_shared<EvalCommand>();
  auto* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a labelled set");
  cmd->add_option("--checkpoint", c->checkpoint, "checkpoint (.pt) from `forensight train`")
      ->required();
  cmd->add_option("--data", c->data_path, "class folders or a CSV manifest")->required();
  cmd->add_option("--split", c->split.split,
                  "which images: auto (the test split when a split file is found, else all), "
                  "test, val, train, all (default auto)")
      ->check(CLI::IsMember({"auto", "test", "val", "train", "all"}));
  cmd->add_option("--split-file", c->split.split_file,
                  "split.json of the run (default: the one next to the checkpoint's run)");
  cmd->add_option("--json", c->json_path, "also write the report as JSON to this file");
  cmd->add_option("--report-dir", c->report_dir, "write report.json, report.md and roc.png here");
  cmd->add_option("--threshold", c->options.threshold, "P(AI-generated) threshold (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--jpeg", c->options.jpeg_qualities, "robustness: JPEG qualities, e.g. 95,75,50")
      ->delimiter(',');
  cmd->add_option("--blur", c->options.blur_sigmas, "robustness: blur sigmas, e.g. 1,2")
      ->delimiter(',');
  cmd->add_option("--downscale", c->options.downscales, "robustness: downscale factors, e.g. 0.5")
      ->delimiter(',');
  cmd->add_option("--batch-size", c->options.batch_size, "images per forward pass (default 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--workers", c->options.workers, "loader threads (default 2)")
      ->check(CLI::NonNegativeNumber);
  add_inference_options(*cmd, c->device, c->precision, c->threads);
  cmd->callback([c] { run_eval(*c); });
}

}  // namespace forensight::app
