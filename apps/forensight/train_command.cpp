// forensight train: a preset, then a config file, then flags (or a run directory to resume) ->
// train::train. Everything else lives in src/forensight/train.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>

#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/train/presets.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/trainer.h"

namespace forensight::app {
namespace {

struct TrainCommand {
  train::TrainOptions options;
  std::unique_ptr<OptionTable> table;
  std::string preset;
  std::string resume_dir;
};

void run_train(TrainCommand& c) {
  const bool resume = !c.resume_dir.empty();
  if (resume) {
    const std::string config_path = c.resume_dir + "/config.json";
    std::ifstream in(config_path);
    FS_CHECK(in.good(), "cannot resume '{}': it has no config.json (is it a run directory?)",
             c.resume_dir);
    nlohmann::json saved;
    try {
      saved = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("cannot resume '{}': config.json is not valid JSON ({})", c.resume_dir, e.what());
    }
    c.table->apply_json(saved, config_path);
  } else if (!c.preset.empty()) {
    c.options = train::preset_options(c.preset);
  }
  c.table->resolve();
  if (resume) c.options.out_dir = c.resume_dir;
  const auto result = train::train(c.options, c.table->to_json(), resume);
  spdlog::info("trained {} steps in {:.1f} s; run directory {}", result.steps, result.seconds,
               result.run_dir);
  if (!result.final_metrics.empty())
    fmt::print("test accuracy {:.4f}, ROC-AUC {}, report {}/report.md\n",
               result.final_metrics.value("accuracy", 0.0),
               result.final_metrics.value("roc_auc", nlohmann::json()).dump(), result.run_dir);
  if (result.final_metrics.contains("held_out")) {
    const nlohmann::json& h = result.final_metrics["held_out"];
    fmt::print(
        "held-out source {}: accuracy {:.4f}, ROC-AUC {}, AP {} ({} AI-generated, {} real)\n",
        h.value("source", ""), h.value("accuracy", 0.0),
        h.value("roc_auc", nlohmann::json()).dump(),
        h.value("average_precision", nlohmann::json()).dump(), h.value("count_fake", 0),
        h.value("count_real", 0));
  }
}

}  // namespace

void register_train_command(CLI::App& app) {
  auto command = std::make_shared<TrainCommand>();
  command->table =
      std::make_unique<OptionTable>("train", train::train_option_specs(command->options));
  auto* cmd =
      app.add_subcommand("train", "Train a detector: forensight train --data PATH --out DIR");
  cmd->add_option("--preset", command->preset,
                  fmt::format("start from a preset: {}", fmt::join(train::preset_names(), ", ")))
      ->check(CLI::IsMember(train::preset_names()));
  cmd->add_option("--resume", command->resume_dir,
                  "continue the run in this run directory from its last checkpoint");
  command->table->bind(*cmd);
  cmd->callback([command] { run_train(*command); });
}

}  // namespace forensight::app
