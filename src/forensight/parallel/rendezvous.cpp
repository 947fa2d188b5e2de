#include "forensight/parallel/rendezvous.h"

#include <cstdlib>

#include "forensight/core/error.h"

namespace forensight::parallel {
namespace {

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int parse_int(const std::string& name, const std::string& value, int min, int max) {
  size_t used = 0;
  long parsed = 0;
  try {
    parsed = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  FS_CHECK(used == value.size() && used > 0, "environment variable {}='{}' is not an integer", name,
           value);
  FS_CHECK(parsed >= min && parsed <= max, "environment variable {}={} is out of range [{}, {}]",
           name, parsed, min, max);
  return static_cast<int>(parsed);
}

// Slurm's SLURM_NTASKS_PER_NODE may read "4" or "4(x2)"; the count before the parenthesis is ours.
std::string leading_count(const std::string& value) {
  const size_t paren = value.find('(');
  return paren == std::string::npos ? value : value.substr(0, paren);
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  FS_CHECK(!nodelist.empty(), "SLURM_JOB_NODELIST is empty: cannot name the master host");
  // The first entry ends at the first comma outside brackets.
  size_t end = 0;
  int depth = 0;
  for (; end < nodelist.size(); ++end) {
    const char c = nodelist[end];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
  }
  std::string host = nodelist.substr(0, end);
  // Each bracketed range ("01-04,07") becomes its first number, zero padding kept.
  for (size_t open; (open = host.find('[')) != std::string::npos;) {
    const size_t close = host.find(']', open);
    FS_CHECK(close != std::string::npos, "SLURM_JOB_NODELIST '{}' has an unclosed '['", nodelist);
    std::string range = host.substr(open + 1, close - open - 1);
    range = range.substr(0, range.find_first_of(",-"));
    host = host.substr(0, open) + range + host.substr(close + 1);
  }
  return host;
}

RendezvousInfo rendezvous_from_environment(const GetEnv& getenv_fn) {
  const GetEnv env = getenv_fn ? getenv_fn : GetEnv(process_env);
  RendezvousInfo info;
  const auto read_int = [&](const std::string& name, int min, int max) -> std::optional<int> {
    auto value = env(name);
    if (!value) return std::nullopt;
    return parse_int(name, leading_count(*value), min, max);
  };
  constexpr int kMaxRanks = 1 << 20;

  if (env("WORLD_SIZE") || env("RANK")) {
    info.source = "torchrun";
    FS_CHECK(env("WORLD_SIZE") && env("RANK"),
             "RANK and WORLD_SIZE must be set together (found only {})",
             env("RANK") ? "RANK" : "WORLD_SIZE");
    info.world_size = *read_int("WORLD_SIZE", 1, kMaxRanks);
    info.rank = *read_int("RANK", 0, info.world_size - 1);
    info.local_rank = read_int("LOCAL_RANK", 0, kMaxRanks).value_or(info.rank);
    info.local_world_size = read_int("LOCAL_WORLD_SIZE", 1, kMaxRanks).value_or(info.world_size);
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    info.source = "slurm";
    info.world_size = *read_int("SLURM_NTASKS", 1, kMaxRanks);
    info.rank = *read_int("SLURM_PROCID", 0, info.world_size - 1);
    info.local_rank = read_int("SLURM_LOCALID", 0, kMaxRanks).value_or(0);
    info.local_world_size =
        read_int("SLURM_NTASKS_PER_NODE", 1, kMaxRanks).value_or(info.world_size);
    if (!env("MASTER_ADDR") && env("SLURM_JOB_NODELIST"))
      info.master_addr = first_slurm_host(*env("SLURM_JOB_NODELIST"));
  }
  FS_CHECK(info.local_rank < info.local_world_size,
           "local rank {} is not below the local world size {} (LOCAL_RANK/SLURM_LOCALID against "
           "LOCAL_WORLD_SIZE/SLURM_NTASKS_PER_NODE)",
           info.local_rank, info.local_world_size);
  if (auto addr = env("MASTER_ADDR")) info.master_addr = *addr;
  if (auto port = read_int("MASTER_PORT", 1, 65535)) info.master_port = *port;
  info.restart_count = read_int("TORCHELASTIC_RESTART_COUNT", 0, kMaxRanks).value_or(0);
  return info;
}

}  // namespace forensight::parallel
