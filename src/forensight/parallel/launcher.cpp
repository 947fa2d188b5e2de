#include "forensight/parallel/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "forensight/core/error.h"

extern char** environ;

namespace forensight::parallel {
namespace {

volatile sig_atomic_t g_received_signal = 0;  // the only global: a signal handler's mailbox
void on_signal(int sig) {
  g_received_signal = sig;
}

using Clock = std::chrono::steady_clock;

// One rank's process and the two pipes its output comes through.
struct Rank {
  int local_rank = 0;
  int global_rank = 0;
  pid_t pid = -1;
  int out_fd = -1;  // its stdout
  int err_fd = -1;  // its stderr
  std::string out_partial, err_partial;
  std::string last_error;  // its last "error: ..." line on stderr: why it failed, in its words
  bool exited = false;
  int status = 0;
};

// Writes complete lines of `chunk` to `to`, each behind the rank's prefix; keeps the unfinished
// tail. The last line that main() printed as "error: ..." goes to `last_error` (when given).
void forward_lines(std::string& partial, const char* chunk, size_t size, FILE* to,
                   const std::string& prefix, std::string* last_error) {
  partial.append(chunk, size);
  size_t start = 0;
  for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    // A progress bar's carriage returns: keep the last redraw of the line.
    std::string line = partial.substr(start, nl - start);
    if (const size_t cr = line.find_last_of('\r'); cr != std::string::npos)
      line = line.substr(cr + 1);
    std::fprintf(to, "%s%s\n", prefix.c_str(), line.c_str());
    if (last_error != nullptr && line.rfind("error: ", 0) == 0) *last_error = line.substr(7);
  }
  partial.erase(0, start);
  std::fflush(to);
}

// Reads what is there; returns false at end of file.
bool drain(int& fd, std::string& partial, FILE* to, const std::string& prefix,
           std::string* last_error = nullptr) {
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      forward_lines(partial, buffer, static_cast<size_t>(n), to, prefix, last_error);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (!partial.empty()) forward_lines(partial, "\n", 1, to, prefix, last_error);
    ::close(fd);
    fd = -1;
    return false;
  }
}

// "rank 1 exited with code 1: <its error line>", as torchrun reports a failed rank's root cause.
std::string describe_exit(const Rank& rank) {
  if (WIFSIGNALED(rank.status))
    return fmt::format("rank {} was killed by signal {} ({})", rank.global_rank,
                       WTERMSIG(rank.status), strsignal(WTERMSIG(rank.status)));
  return fmt::format("rank {} exited with code {}{}", rank.global_rank, WEXITSTATUS(rank.status),
                     rank.last_error.empty() ? "" : ": " + rank.last_error);
}

int exit_code_of(const Rank& rank) {
  return WIFSIGNALED(rank.status) ? 128 + WTERMSIG(rank.status) : WEXITSTATUS(rank.status);
}

std::vector<std::string> rank_environment(const LaunchOptions& o, const Rank& rank, int threads,
                                          int restart) {
  const std::vector<std::pair<std::string, std::string>> ours = {
      {"RANK", std::to_string(rank.global_rank)},
      {"WORLD_SIZE", std::to_string(o.nnodes * o.nproc_per_node)},
      {"LOCAL_RANK", std::to_string(rank.local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
      {"GROUP_RANK", std::to_string(o.node_rank)},
      {"MASTER_ADDR", o.master_addr},
      {"MASTER_PORT", std::to_string(o.master_port)},
      {"TORCHELASTIC_RESTART_COUNT", std::to_string(restart)},
      {"TORCHELASTIC_MAX_RESTARTS", std::to_string(o.max_restarts)},
      {"OMP_NUM_THREADS", std::to_string(threads)},
      {"FORENSIGHT_THREADS", std::to_string(threads)},
  };
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    const bool replaced =
        std::any_of(ours.begin(), ours.end(), [&](const auto& kv) { return kv.first == name; });
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : ours) env.push_back(name + "=" + value);
  return env;
}

void start_rank(const LaunchOptions& o, Rank& rank, int threads, int restart) {
  int out_pipe[2], err_pipe[2];
  FS_CHECK(::pipe2(out_pipe, O_CLOEXEC) == 0 && ::pipe2(err_pipe, O_CLOEXEC) == 0,
           "launch: cannot create pipes for rank {}: {}", rank.global_rank, std::strerror(errno));
  // Everything exec needs is built before fork: the child only duplicates descriptors and execs.
  std::vector<std::string> env = rank_environment(o, rank, threads, restart);
  std::vector<char*> envp, argv;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = o.command;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t launcher = ::getpid();

  const pid_t pid = ::fork();
  FS_CHECK(pid >= 0, "launch: cannot fork rank {}: {}", rank.global_rank, std::strerror(errno));
  if (pid == 0) {
    // Its own process group (signals are forwarded by us, not by the terminal to everyone), and
    // it dies with the launcher even when the launcher is SIGKILLed.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != launcher) ::_exit(127);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::execvpe(argv[0], argv.data(), envp.data());
    std::fprintf(stderr, "launch: cannot run '%s': %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
  rank.pid = pid;
  rank.out_fd = out_pipe[0];
  rank.err_fd = err_pipe[0];
  rank.exited = false;
  rank.status = 0;
}

void signal_all(std::vector<Rank>& ranks, int sig) {
  for (auto& r : ranks)
    if (!r.exited && r.pid > 0) ::kill(-r.pid, sig);
}

struct AttemptOutcome {
  bool ok = true;
  int exit_code = 0;
  std::string failure;
  int interrupted_by = 0;  // SIGINT / SIGTERM received by the launcher
};

AttemptOutcome run_attempt(const LaunchOptions& o, int threads, int restart) {
  std::vector<Rank> ranks(o.nproc_per_node);
  for (int i = 0; i < o.nproc_per_node; ++i) {
    ranks[i].local_rank = i;
    ranks[i].global_rank = o.node_rank * o.nproc_per_node + i;
  }
  for (auto& r : ranks) start_rank(o, r, threads, restart);

  AttemptOutcome outcome;
  // When to SIGKILL (then, once all have exited, to stop reading their pipes); kNever = not set.
  // (A time point rather than std::optional: gcc's -Wmaybe-uninitialized misreads the optional.)
  constexpr Clock::time_point kNever = Clock::time_point::max();
  Clock::time_point kill_at = kNever;
  while (true) {
    // 1. Output: poll every open pipe for up to 100 ms.
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, bool>> owners;  // (rank, is stderr)
    for (auto& r : ranks) {
      if (r.out_fd >= 0) fds.push_back({r.out_fd, POLLIN, 0}), owners.push_back({&r, false});
      if (r.err_fd >= 0) fds.push_back({r.err_fd, POLLIN, 0}), owners.push_back({&r, true});
    }
    if (!fds.empty()) {
      ::poll(fds.data(), fds.size(), 100);
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Rank& r = *owners[i].first;
        const std::string prefix = fmt::format("[rank {}] ", r.global_rank);
        if (owners[i].second)
          drain(r.err_fd, r.err_partial, stderr, prefix, &r.last_error);
        else
          drain(r.out_fd, r.out_partial, stdout, prefix);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // 2. Exits: the first failure ends the group.
    for (auto& r : ranks) {
      if (r.exited) continue;
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(r.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid != r.pid)
        continue;
      // What it left behind in its process group goes with it (no orphans), while its pid, the
      // group's id, is still ours: it is reaped only below.
      ::kill(-r.pid, SIGKILL);
      int status = 0;
      ::waitpid(r.pid, &status, 0);
      r.exited = true;
      r.status = status;
      // Its last words (the error line) are in the pipe already: read them before naming it.
      const std::string prefix = fmt::format("[rank {}] ", r.global_rank);
      if (r.err_fd >= 0) drain(r.err_fd, r.err_partial, stderr, prefix, &r.last_error);
      if (r.out_fd >= 0) drain(r.out_fd, r.out_partial, stdout, prefix);
      const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      if (failed && outcome.ok && outcome.interrupted_by == 0) {
        outcome.ok = false;
        outcome.exit_code = exit_code_of(r);
        outcome.failure = describe_exit(r);
        spdlog::error("launch: {}; stopping the other ranks", outcome.failure);
        signal_all(ranks, SIGTERM);
        kill_at =
            Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000));
      }
    }
    // 3. Signals to the launcher go to every rank.
    if (g_received_signal != 0 && outcome.interrupted_by == 0) {
      outcome.interrupted_by = g_received_signal;
      spdlog::warn("launch: received signal {}, forwarding it to the ranks",
                   static_cast<int>(g_received_signal));
      signal_all(ranks, g_received_signal);
      kill_at =
          Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.grace_seconds * 1000));
    }
    if (Clock::now() >= kill_at) {
      signal_all(ranks, SIGKILL);
      kill_at = kNever;
    }
    const bool all_done = std::all_of(ranks.begin(), ranks.end(), [](const Rank& r) {
      return r.exited && r.out_fd < 0 && r.err_fd < 0;
    });
    if (all_done) break;
    // A rank that exited but whose descendants keep its pipes open must not keep us waiting.
    if (std::all_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.exited; })) {
      for (auto& r : ranks) {
        const std::string prefix = fmt::format("[rank {}] ", r.global_rank);
        if (r.out_fd >= 0) drain(r.out_fd, r.out_partial, stdout, prefix);
        if (r.err_fd >= 0) drain(r.err_fd, r.err_partial, stderr, prefix, &r.last_error);
      }
      if (kill_at == kNever) kill_at = Clock::now() + std::chrono::seconds(1);
      for (auto& r : ranks) {
        if (Clock::now() >= kill_at) {
          if (r.out_fd >= 0) ::close(r.out_fd), r.out_fd = -1;
          if (r.err_fd >= 0) ::close(r.err_fd), r.err_fd = -1;
        }
      }
    }
  }
  if (outcome.interrupted_by != 0) {
    outcome.ok = false;
    outcome.exit_code = 128 + outcome.interrupted_by;
    outcome.failure = fmt::format("interrupted by signal {}", outcome.interrupted_by);
  }
  return outcome;
}

}  // namespace

int default_threads_per_rank(int nproc_per_node) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, nproc_per_node));
}

LaunchResult launch(const LaunchOptions& o) {
  FS_CHECK(!o.command.empty(),
           "launch: no command given: forensight launch [options] -- train ...");
  FS_CHECK(o.nproc_per_node >= 1, "launch: --nproc-per-node must be >= 1, got {}",
           o.nproc_per_node);
  FS_CHECK(o.nnodes >= 1, "launch: --nnodes must be >= 1, got {}", o.nnodes);
  FS_CHECK(o.node_rank >= 0 && o.node_rank < o.nnodes,
           "launch: --node-rank {} is not in [0, --nnodes {})", o.node_rank, o.nnodes);
  FS_CHECK(o.master_port >= 1 && o.master_port <= 65535,
           "launch: --master-port {} is not in [1, 65535]", o.master_port);
  FS_CHECK(o.max_restarts >= 0, "launch: --max-restarts must be >= 0, got {}", o.max_restarts);
  FS_CHECK(o.threads_per_rank >= 0, "launch: --threads-per-rank must be >= 0, got {}",
           o.threads_per_rank);
  FS_CHECK(o.grace_seconds >= 0, "launch: --grace-seconds must be >= 0, got {}", o.grace_seconds);
  const int threads =
      o.threads_per_rank > 0 ? o.threads_per_rank : default_threads_per_rank(o.nproc_per_node);

  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  g_received_signal = 0;

  LaunchResult result;
  for (int attempt = 0;; ++attempt) {
    spdlog::info("launch: node {} of {}, ranks {}..{} of {}, {} intra-op threads each{}",
                 o.node_rank, o.nnodes, o.node_rank * o.nproc_per_node,
                 (o.node_rank + 1) * o.nproc_per_node - 1, o.nnodes * o.nproc_per_node, threads,
                 attempt > 0 ? fmt::format(" (restart {} of {})", attempt, o.max_restarts) : "");
    const AttemptOutcome outcome = run_attempt(o, threads, attempt);
    result.restarts = attempt;
    if (outcome.ok) {
      result.exit_code = 0;
      result.failure.clear();
      break;
    }
    result.exit_code = outcome.exit_code;
    result.failure = outcome.failure;
    if (outcome.interrupted_by != 0 || attempt >= o.max_restarts) break;
    spdlog::warn("launch: {}; restarting the group from its last checkpoint ({} of {})",
                 outcome.failure, attempt + 1, o.max_restarts);
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (result.exit_code != 0)
    spdlog::error("launch: the job failed: {}{}", result.failure,
                  result.restarts > 0 ? fmt::format(" (after {} restarts)", result.restarts) : "");
  return result;
}

}  // namespace forensight::parallel
