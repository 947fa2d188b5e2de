#include "bench/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

void ServerProcess::fail_not_ready(const std::string& why) {
  const int status = stop(2.0);
  fail("the server did not become ready ({}; exit status {}): {}\nits log ({}) ends:\n{}", why,
       status, command_, log_path_, tail_of_file(log_path_));
}

double ServerProcess::seconds_since_start() const {
  return monotonic_seconds() - started_s_;
}

}  // namespace forensight::bench
