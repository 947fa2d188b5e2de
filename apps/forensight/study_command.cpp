// forensight study: the seed's experiments in one command (study/study.h).
//   forensight study --config studies/quick.yaml --out runs/study-quick
#include "commands.h"
#include "forensight/core/process.h"
#include "forensight/study/study.h"

namespace forensight::app {

void register_study_command(CLI::App& app) {
  auto options = std::make_shared<study::StudyOptions>();
  auto* cmd = app.add_subcommand(
      "study",
      "Run a study: a grid of training cells (threads, loader workers, data-parallel ranks, mixed "
      "precision, model placement) for resnet18 and vit, each in a fresh process, beside the "
      "seed's Python original; writes results.csv/json, report.md and plots. Resumable.");
  cmd->add_option("--config", options->config_path, "study file (studies/quick.yaml, seed.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", options->out_dir, "study folder (kept cells are reused on a rerun)")
      ->required();
  cmd->add_option("--python", options->python_cells,
                  "which cells also run the Python original, overriding the config: all, "
                  "baseline or none")
      ->check(CLI::IsMember({"all", "baseline", "none"}));
  cmd->add_option("--python-executable", options->python,
                  "the Python with torch, torchvision and transformers (default: the bootstrap's)");
  cmd->add_flag("--retry-failed", options->retry_failed,
                "run the cells that failed before again (default: keep their records)");
  cmd->add_flag("!--no-plots", options->plots, "skip the plots (matplotlib)");
  cmd->callback([options] {
    options->binary = self_executable();
    study::run_study(*options);
  });
}

}  // namespace forensight::app
