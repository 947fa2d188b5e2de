// A server `bench serve` measures, running in the background: `forensight serve` or the Python
// peer, started in a process group of its own with its output in a log file, and stopped (SIGTERM,
// then SIGKILL after a grace period) by its owner's destructor, so that a failing benchmark never
// leaves a server holding cores behind it.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace forensight::bench {

class ServerProcess {
 public:
  // Starts argv (argv[0] searched on PATH); stdout and stderr are appended to log_path. Throws
  // Error when it cannot start.
  ServerProcess(std::vector<std::string> argv, std::string log_path);
  ~ServerProcess();  // stop()
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Polls `probe` (true once the server answers as ready) every 50 ms for up to timeout_s. Throws
  // Error with the log's tail when the process exits first or the time runs out.
  template <typename Probe>
  void wait_until_ready(Probe probe, double timeout_s);

  bool running();  // false once it has exited (reaped here)
  // SIGTERM to its group, SIGKILL after grace_s; returns the exit status (128 + N for signal N).
  // Idempotent: later calls return the first status.
  int stop(double grace_s = 10.0);

  // CPU seconds (user + system, every thread) the server process has used so far, from
  // /proc/PID/stat; NaN once it has exited or where /proc cannot be read.
  double cpu_seconds() const;

  const std::string& command() const { return command_; }  // the argv as one shell line
  const std::string& log_path() const { return log_path_; }

 private:
  [[noreturn]] void fail_not_ready(const std::string& why);
  double seconds_since_start() const;

  std::string command_;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;  // -1 while running
  double started_s_ = 0;  // monotonic clock, seconds
};

template <typename Probe>
void ServerProcess::wait_until_ready(Probe probe, double timeout_s) {
  while (seconds_since_start() < timeout_s) {
    if (!running()) fail_not_ready("it exited");
    if (probe()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fail_not_ready("it was not ready in time");
}

}  // namespace forensight::bench
