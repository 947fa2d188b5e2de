// forensight bench: placeholder registration until the subcommand lands.
#include "commands.h"
#include "forensight/core/error.h"

namespace forensight::app {

void register_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "(not built yet)");
  cmd->callback([] { fail("'forensight bench' is not built yet"); });
}

}  // namespace forensight::app
