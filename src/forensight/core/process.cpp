#include "forensight/core/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <thread>

#include "forensight/core/error.h"
#include "forensight/core/timer.h"

extern char** environ;

namespace forensight {

std::string self_executable() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  FS_CHECK(n > 0, "cannot find this executable's path (/proc/self/exe): {}", std::strerror(errno));
  return std::string(path, static_cast<size_t>(n));
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  FS_CHECK(fd >= 0, "cannot open a socket to find a free port: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  FS_CHECK(ok, "cannot bind a loopback socket to find a free port: {}", std::strerror(errno));
  return ntohs(addr.sin_port);
}

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  FS_CHECK(!argv.empty(), "run_process: empty command");
  // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& extra : options.environment) {
    const std::string name = extra.substr(0, extra.find('=') + 1);
    std::erase_if(env_strings, [&](const std::string& s) { return s.starts_with(name); });
    env_strings.push_back(extra);
  }
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  int log_fd = -1;
  if (!options.log_path.empty()) {
    log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    FS_CHECK(log_fd >= 0, "cannot open log file '{}': {}", options.log_path, std::strerror(errno));
  }

  Timer timer;
  const pid_t pid = ::fork();
  if (pid < 0) {
    if (log_fd >= 0) ::close(log_fd);
    fail("cannot start '{}': fork failed: {}", argv[0], std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (log_fd >= 0) {
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
    }
    ::execvpe(args[0], args.data(), env.data());
    const char message[] = "run_process: exec failed\n";
    [[maybe_unused]] ssize_t w = ::write(STDERR_FILENO, message, sizeof(message) - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: no race with the child's own call
  if (log_fd >= 0) ::close(log_fd);

  ProcessResult result;
  int status = 0;
  double term_sent_at = -1;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    FS_CHECK(done == 0 || errno == EINTR, "waiting for '{}' failed: {}", argv[0],
             std::strerror(errno));
    const double now = timer.seconds();
    if (options.timeout_s > 0 && now > options.timeout_s && term_sent_at < 0) {
      result.timed_out = true;
      ::kill(-pid, SIGTERM);
      term_sent_at = now;
    }
    if (term_sent_at >= 0 && now > term_sent_at + 10) ::kill(-pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(now < 1 ? 5 : 50));
  }
  // Whatever the child left behind in its group (a launcher's ranks, a loader's workers) goes too.
  ::kill(-pid, SIGKILL);
  result.seconds = timer.seconds();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string shell_join(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line += ' ';
    const bool plain = !a.empty() && a.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                         "OPQRSTUVWXYZ0123456789_-+=/.,:@%") == std::string::npos;
    if (plain) {
      line += a;
      continue;
    }
    line += '\'';
    for (char c : a) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

std::string tail_of_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  const size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (start > 0) {
    const size_t newline = text.find('\n');
    if (newline != std::string::npos) text.erase(0, newline + 1);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace forensight
