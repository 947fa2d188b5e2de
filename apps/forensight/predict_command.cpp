// forensight predict: placeholder registration until the subcommand lands.
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {

void register_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "(not built yet)");
  cmd->callback([] { fail("'forensight predict' is not built yet"); });
}

}  // namespace forensight::app
