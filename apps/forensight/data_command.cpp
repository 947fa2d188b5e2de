// forensight data: placeholder registration until the subcommand lands.
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {

void register_data_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "(not built yet)");
  cmd->callback([] { fail("'forensight data' is not built yet"); });
}

}  // namespace forensight::app
