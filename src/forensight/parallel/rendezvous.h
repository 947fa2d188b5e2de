// Where this process stands in a distributed job, read from the environment conventions people
// already use: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT) and Slurm's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE,
// SLURM_JOB_NODELIST for the first host). A Forensight job therefore runs under `torchrun`, `srun`
// or `forensight launch` unchanged. No variable set means a single process (world size 1).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace forensight::parallel {

struct RendezvousInfo {
  int rank = 0;                           // global rank in [0, world_size)
  int world_size = 1;                     // processes in the job
  int local_rank = 0;                     // rank on this node (picks the GPU: cuda:local_rank)
  int local_world_size = 1;               // processes on this node (shares the cores)
  std::string master_addr = "127.0.0.1";  // host of rank 0's TCPStore
  int master_port = 29500;                // its port
  int restart_count = 0;  // TORCHELASTIC_RESTART_COUNT: > 0 when the launcher restarted the group
  std::string source = "none";  // "torchrun", "slurm" or "none": which convention was read
  bool distributed() const { return world_size > 1; }
};

// Reads the environment through `getenv` (std::getenv by default; tests pass a map). torchrun's
// variables win over Slurm's when both are set (torchrun inside an allocation). Throws Error naming
// the variable and its value when one is malformed or out of range (RANK >= WORLD_SIZE, a port
// outside 1..65535, ...).
using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
RendezvousInfo rendezvous_from_environment(const GetEnv& getenv = {});

// The first host of a Slurm node list: "node[01-04,07],gpu5" -> "node01", "a,b" -> "a".
std::string first_slurm_host(const std::string& nodelist);

}  // namespace forensight::parallel
