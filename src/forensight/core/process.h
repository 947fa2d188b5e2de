// Child processes as the launcher, the study and the benchmarks start them: this executable's
// path, a free loopback port for a rendezvous, and one command run to completion with its output
// in a log file and a wall-clock limit.
#pragma once
#include <string>
#include <vector>

namespace forensight {

// The running executable's path (/proc/self/exe). Throws Error when it cannot be read.
std::string self_executable();

// A loopback TCP port nobody listens on now (the kernel's choice for port 0).
int free_port();

struct ProcessOptions {
  std::vector<std::string> environment;  // "NAME=value" entries added to this process's own
  std::string log_path;                  // stdout and stderr go here (appended); "" = inherited
  double timeout_s = 0;                  // SIGTERM, then SIGKILL 10 s later, after this (0 = none)
};

struct ProcessResult {
  int exit_code = -1;      // the child's exit status; 128 + N when killed by signal N
  bool timed_out = false;  // ended by the timeout
  double seconds = 0;      // wall time
};

// Runs argv[0] (searched on PATH) with argv, in a process group of its own so that a timeout ends
// its children too. Throws Error only when it cannot start; a failing command is a result.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The command as one shell line, each argument quoted where it needs it: what logs and reports
// show so that a reader can paste it.
std::string shell_join(const std::vector<std::string>& argv);

// The last `max_bytes` of a (log) file, from the start of a line: what to show of a failure.
std::string tail_of_file(const std::string& path, size_t max_bytes = 2000);

}  // namespace forensight
