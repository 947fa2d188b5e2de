// The local launcher (`forensight launch`): starts this node's ranks of a data-parallel job with
// torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT, TORCHELASTIC_RESTART_COUNT), pins each rank's intra-op threads so that N ranks do
// not oversubscribe the cores, prefixes each rank's output lines with its rank, forwards SIGINT and
// SIGTERM, and when a rank dies ends the others and names it, with its own error line (a rank
// whose collective timed out names the peer that hung). A rank's process group ends with it, so
// nothing it started outlives it. With max_restarts > 0 the whole group is started again (ranks
// resume from their last checkpoint), as torchrun's elastic agent does. One machine per launcher:
// a multi-node job runs one launcher per node (or srun/torchrun).
#pragma once
#include <string>
#include <vector>

namespace forensight::parallel {

struct LaunchOptions {
  int nproc_per_node = 1;                 // ranks on this node, >= 1
  int nnodes = 1;                         // nodes in the job
  int node_rank = 0;                      // this node, in [0, nnodes)
  std::string master_addr = "127.0.0.1";  // node 0's address (its rank 0 runs the TCPStore)
  int master_port = 29500;
  int max_restarts = 0;       // restarts of the whole group after a failure
  int threads_per_rank = 0;   // intra-op threads per rank (0 = cores / nproc_per_node, >= 1)
  double grace_seconds = 10;  // after SIGTERM, how long ranks get before SIGKILL
  // The command each rank runs: a Forensight subcommand ("train", ...) runs this executable;
  // anything else (a path, "python3") runs as it is, found on PATH.
  std::vector<std::string> command;
};

struct LaunchResult {
  int exit_code = 0;  // 0 when every rank of the last attempt exited 0
  int restarts = 0;   // group restarts used
  // "rank R exited with code C: <its error line>" / "rank R was killed by signal S (Killed)"
  std::string failure;
};

// Runs the job to completion (or to its failure after max_restarts). Throws Error for bad options.
LaunchResult launch(const LaunchOptions& options);

// The intra-op threads each rank gets by default: available cores / ranks, at least 1.
int default_threads_per_rank(int nproc_per_node);

}  // namespace forensight::parallel
