// forensight launch: start this node's ranks of a data-parallel job (parallel/launcher.h).
//   forensight launch --nproc-per-node 2 -- train --preset resnet18-cpu --data d --out runs/r
// A Forensight subcommand after `--` runs this executable; anything else runs as it is.
#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/parallel/launcher.h"

namespace forensight::app {

void register_launch_command(CLI::App& app) {
  auto options = std::make_shared<parallel::LaunchOptions>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a data-parallel job's ranks on this node: forensight launch --nproc-per-node "
      "N [--nnodes K --node-rank R --master-addr A --master-port P] -- train ...");
  cmd->add_option("--nproc-per-node", options->nproc_per_node, "ranks on this node (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--nnodes", options->nnodes, "nodes in the job (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--node-rank", options->node_rank, "this node's rank in [0, nnodes) (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--master-addr", options->master_addr,
                  "address of node 0, where rank 0 runs the rendezvous store (default 127.0.0.1)")
      ->envname("MASTER_ADDR");
  cmd->add_option("--master-port", options->master_port, "its port (default 29500)")
      ->envname("MASTER_PORT")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--max-restarts", options->max_restarts,
                  "restart the whole group from its last checkpoint up to M times (default 0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads-per-rank", options->threads_per_rank,
                  "intra-op threads of each rank (default 0 = cores / nproc-per-node)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--grace-seconds", options->grace_seconds,
                  "after a failure or a signal, seconds before the ranks are killed (default 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("command", options->command, "the command each rank runs, after --")->required();
  cmd->callback([options, &app] {
    // A subcommand of ours runs this very executable.
    for (const auto* sub : app.get_subcommands({}))
      if (sub->get_name() == options->command.front()) {
        options->command.insert(options->command.begin(), self_executable());
        break;
      }
    const auto result = parallel::launch(*options);
    FS_CHECK(result.exit_code == 0, "the job failed: {}{}", result.failure,
             result.restarts > 0 ? fmt::format(" (after {} restarts)", result.restarts) : "");
  });
}

}  // namespace forensight::app
