// forensight data: inspect a dataset, generate the built-in one, build a decoded cache. Each
// subcommand only parses its flags (one table per subcommand) and calls the library.
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/synth.h"

namespace forensight::app {
namespace {

void register_synth(CLI::App& data, std::shared_ptr<data::SynthOptions> o) {
  auto* cmd = data.add_subcommand(
      "synth",
      "Generate the built-in dataset: crops of the mate-backgrounds photographs (real) "
      "and their re-synthesis by a transposed-convolution generator (fake)");
  cmd->add_option("--out", o->out_dir, "output folder: 0_real/, 1_fake/, train.csv")->required();
  cmd->add_option("--count", o->count, "images in total, half per class (default 400)")
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--size", o->size_px, "side of each image in pixels (default 256)")
      ->check(CLI::Range(32, 2048));
  cmd->add_option("--seed", o->seed, "random seed (default 0)");
  cmd->add_option("--quality", o->quality, "JPEG quality of both classes (default 90)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--photos", o->photos_dir,
                  "folder of photographs (default /usr/share/backgrounds/mate)");
  cmd->add_option("--fit-steps", o->fit_steps, "generator fitting steps (default 40)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { data::synthesize_dataset(*o); });
}

}  // namespace

void register_data_command(CLI::App& app) {
  auto* data = app.add_subcommand(
      "data", "Dataset tools: synth (inspect and cache arrive with the dataset loader)");
  data->require_subcommand(1);
  register_synth(*data, std::make_shared<data::SynthOptions>());
}

}  // namespace forensight::app
