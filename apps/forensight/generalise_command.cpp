// forensight generalise: leave-one-family-out in one command (study/generalise.h). Takes every
// train option (a preset, a config file, flags), runs one training per generator family with that
// family held out, and writes the matrix.
//   forensight generalise --data D.csv --out runs/gen --preset resnet18-cpu --input-filter npr
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>

#include "commands.h"
#include "forensight/study/generalise.h"
#include "forensight/train/presets.h"
#include "forensight/train/train_option_table.h"

namespace forensight::app {
namespace {

struct GeneraliseCommand {
  study::GeneraliseOptions options;
  std::unique_ptr<OptionTable> table;
  std::string preset;
};

void run_generalise(GeneraliseCommand& c) {
  if (!c.preset.empty()) c.options.train = train::preset_options(c.preset);
  c.table->resolve();
  const study::GeneraliseResult result = study::run_generalise(c.options);
  const study::MatrixSummary s = study::summarize(result.matrix);
  fmt::print("{}", study::to_markdown(result.matrix));
  fmt::print(
      "\nunseen family: mean accuracy {:.4f}, worst {:.4f} ({}); seen families: mean accuracy "
      "{}\nmatrix: {}/matrix.md, matrix.csv, matrix.json\n",
      s.unseen_accuracy_mean, s.unseen_accuracy_worst, s.worst_family,
      std::isfinite(s.seen_accuracy_mean) ? fmt::format("{:.4f}", s.seen_accuracy_mean) : "n/a",
      c.options.train.out_dir);
}

}  // namespace

void register_generalise_command(CLI::App& app) {
  auto command = std::make_shared<GeneraliseCommand>();
  command->table = std::make_unique<OptionTable>("generalise",
                                                 train::train_option_specs(command->options.train));
  auto* cmd = app.add_subcommand(
      "generalise",
      "Leave-one-family-out: one training per generator family of --data (a `source` whose images "
      "are all AI-generated) with that family held out, then the matrix of runs x families "
      "(accuracy, ROC-AUC, AP) in --out/matrix.{csv,md,json}. Takes every train option. "
      "Resumable.");
  cmd->add_option("--preset", command->preset,
                  fmt::format("start from a preset: {}", fmt::join(train::preset_names(), ", ")))
      ->check(CLI::IsMember(train::preset_names()));
  cmd->add_option("--families", command->options.families,
                  "the families to hold out, one run each (default: every generator family)")
      ->delimiter(',');
  command->table->bind(*cmd);
  cmd->callback([command] { run_generalise(*command); });
}

}  // namespace forensight::app
