// forensight train: placeholder registration until the subcommand lands.
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {

void register_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "(not built yet)");
  cmd->callback([] { fail("'forensight train' is not built yet"); });
}

}  // namespace forensight::app
