#include "forensight/core/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include "forensight/core/error.h"

namespace forensight {
namespace {

constexpr int64_t kUnset = std::numeric_limits<int64_t>::max();

int64_t read_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  FS_CHECK(end != value && *end == '\0' && parsed >= 0,
           "environment variable {}='{}' is not a non-negative integer", name, value);
  return parsed;
}

bool first_attempt() {
  return read_int("TORCHELASTIC_RESTART_COUNT", 0) == 0;
}

[[noreturn]] void kill_self(const std::string& why) {
  std::fprintf(stderr, "fault injection: killing this process %s\n", why.c_str());
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
  std::abort();  // not reached: SIGKILL cannot be caught
}

// The write-path budgets of this process, read from the environment at the first write.
class WriteFaults {
 public:
  static WriteFaults& process() {
    static WriteFaults faults;
    return faults;
  }

  // How many of `bytes` may go out now (all when no fault is armed); kills or fails as set.
  template <typename Write>
  ssize_t write(size_t bytes, Write&& write_bytes) {
    if (!armed_) return write_bytes(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t before = written_bytes_;
    if (before >= enospc_after_bytes_ && bytes > 0) {
      errno = ENOSPC;
      return -1;
    }
    size_t allowed = bytes;
    allowed = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(allowed),
                                                    enospc_after_bytes_ - before));  // what fits
    const bool kill = before + static_cast<int64_t>(allowed) >= kill_after_bytes_;
    if (kill) allowed = static_cast<size_t>(kill_after_bytes_ - before);
    ssize_t written = allowed > 0 ? write_bytes(allowed) : 0;
    if (written > 0) written_bytes_ += written;
    if (kill && written_bytes_ >= kill_after_bytes_)
      kill_self(fmt::format("after writing {} bytes", written_bytes_));
    return written;
  }

  void reload() {
    std::lock_guard<std::mutex> lock(mutex_);
    read_environment();
  }

  void before_rename() {
    if (!armed_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (++commits_ == kill_before_rename_)
      kill_self(fmt::format("in commit {}, before the rename", commits_));
  }

 private:
  WriteFaults() { read_environment(); }

  void read_environment() {
    written_bytes_ = commits_ = 0;
    kill_after_bytes_ = kill_before_rename_ = enospc_after_bytes_ = kUnset;
    armed_ = false;
    if (!first_attempt()) return;
    kill_after_bytes_ = read_int("FORENSIGHT_FAULT_KILL_AFTER_BYTES", kUnset);
    kill_before_rename_ = read_int("FORENSIGHT_FAULT_KILL_BEFORE_RENAME", kUnset);
    enospc_after_bytes_ = read_int("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", kUnset);
    armed_ = kill_after_bytes_ != kUnset || kill_before_rename_ != kUnset ||
             enospc_after_bytes_ != kUnset;
  }

  std::mutex mutex_;
  bool armed_ = false;
  int64_t kill_after_bytes_ = kUnset;
  int64_t kill_before_rename_ = kUnset;
  int64_t enospc_after_bytes_ = kUnset;
  int64_t written_bytes_ = 0;
  int64_t commits_ = 0;
};

}  // namespace

FaultInjection::FaultInjection(int rank) {
  // The step after which a fault fires here: 0 (never) unless its step is set, its rank selector
  // matches (unset: any rank) and this is the group's first attempt.
  auto step_for = [rank](const char* at_step_variable, const char* rank_variable) -> int64_t {
    const int64_t at_step = read_int(at_step_variable, 0);
    const int64_t on_rank = read_int(rank_variable, -1);
    const bool rank_matches = on_rank < 0 || on_rank == rank;
    return at_step > 0 && rank_matches && first_attempt() ? at_step : 0;
  };
  kill_at_step_ = step_for("FORENSIGHT_FAULT_KILL_AT_STEP", "FORENSIGHT_FAULT_KILL_RANK");
  hang_at_step_ = step_for("FORENSIGHT_FAULT_HANG_AT_STEP", "FORENSIGHT_FAULT_HANG_RANK");
}

void FaultInjection::after_step(int64_t step) const {
  if (kill_at_step_ != 0 && step == kill_at_step_) kill_self(fmt::format("after step {}", step));
  if (hang_at_step_ != 0 && step == hang_at_step_) {
    // A rank stuck outside the collectives (a deadlock, a stalled file system): it neither exits
    // nor joins its peers' next collective. SIGTERM and SIGKILL still end it.
    std::fprintf(stderr, "fault injection: this process hangs after step %lld\n",
                 static_cast<long long>(step));
    std::fflush(stderr);
    while (true) std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

ssize_t fault_aware_write(int fd, const void* data, size_t bytes) {
  return WriteFaults::process().write(bytes, [&](size_t n) { return ::write(fd, data, n); });
}

ssize_t fault_aware_pwrite(int fd, const void* data, size_t bytes, off_t offset) {
  return WriteFaults::process().write(bytes,
                                      [&](size_t n) { return ::pwrite(fd, data, n, offset); });
}

void fault_before_rename() {
  WriteFaults::process().before_rename();
}

void reload_write_faults() {
  WriteFaults::process().reload();
}

}  // namespace forensight
