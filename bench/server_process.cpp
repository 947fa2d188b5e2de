#include "bench/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "forensight/core/error.h"
#include "forensight/core/process.h"

namespace forensight::bench {
namespace {

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> argv, std::string log_path)
    : command_(shell_join(argv)), log_path_(std::move(log_path)) {
  FS_CHECK(!argv.empty(), "ServerProcess: empty command");
  // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  FS_CHECK(log_fd >= 0, "cannot open the server's log '{}': {}", log_path_, std::strerror(errno));
  started_s_ = monotonic_seconds();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    fail("cannot start '{}': fork failed: {}", command_, std::strerror(errno));
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execvp(args[0], args.data());
    const char message[] = "ServerProcess: exec failed\n";
    [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here: no race with the child's own call
  ::close(log_fd);
}

ServerProcess::~ServerProcess() {
  stop();
}

bool ServerProcess::running() {
  if (exit_status_ >= 0) return false;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return true;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  ::kill(-pid_, SIGKILL);  // whatever it left in its group
  return false;
}

int ServerProcess::stop(double grace_s) {
  if (!running()) return exit_status_;
  ::kill(-pid_, SIGTERM);
  const double until = monotonic_seconds() + grace_s;
  while (running()) {
    if (monotonic_seconds() > until) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_status_ = 128 + SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_status_;
}

double ServerProcess::cpu_seconds() const {
  constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
  if (exit_status_ >= 0) return kUnknown;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: fields count from the last
  // ')'. utime and stime are fields 14 and 15, in clock ticks.
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return kUnknown;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
  if (!fields) return kUnknown;
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void ServerProcess::fail_not_ready(const std::string& why) {
  const int status = stop(2.0);
  fail("the server did not become ready ({}; exit status {}): {}\nits log ({}) ends:\n{}", why,
       status, command_, log_path_, tail_of_file(log_path_));
}

double ServerProcess::seconds_since_start() const {
  return monotonic_seconds() - started_s_;
}

}  // namespace forensight::bench
