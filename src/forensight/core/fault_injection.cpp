#include "forensight/core/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "forensight/core/error.h"

namespace forensight {
namespace {

int64_t read_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  FS_CHECK(end != value && *end == '\0' && parsed >= 0,
           "environment variable {}='{}' is not a non-negative integer", name, value);
  return parsed;
}

}  // namespace

FaultInjection::FaultInjection(int rank) {
  const int64_t at_step = read_int("FORENSIGHT_FAULT_KILL_AT_STEP", 0);
  const int64_t on_rank = read_int("FORENSIGHT_FAULT_KILL_RANK", -1);
  const bool rank_matches = on_rank < 0 || on_rank == rank;
  const bool first_attempt = read_int("TORCHELASTIC_RESTART_COUNT", 0) == 0;
  if (at_step > 0 && rank_matches && first_attempt) kill_at_step_ = at_step;
}

void FaultInjection::after_step(int64_t step) const {
  if (kill_at_step_ == 0 || step != kill_at_step_) return;
  std::fprintf(stderr, "fault injection: killing this process after step %lld\n",
               static_cast<long long>(step));
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace forensight
