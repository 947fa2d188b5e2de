// forensight eval: placeholder registration until the subcommand lands.
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {

void register_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "(not built yet)");
  cmd->callback([] { fail("'forensight eval' is not built yet"); });
}

}  // namespace forensight::app
