#include "forensight/core/memory.h"

#include <jemalloc/jemalloc.h>

#include <climits>
#include <fstream>
#include <string>

// jemalloc reads this before main, at its own initialisation (jemalloc.h declares it extern "C"):
// keep retained virtual memory for reuse and never return dirty (or muzzy) pages to the kernel.
// See memory.h for the measurements.
const char* malloc_conf = "retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1";

namespace forensight {
namespace {
int64_t read_status_kib(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  }
  return 0;
}
}  // namespace

int64_t peak_rss_bytes() {
  return read_status_kib("VmHWM");
}
int64_t current_rss_bytes() {
  return read_status_kib("VmRSS");
}

void retain_freed_memory() {
  ssize_t never = -1;
  // New arenas (one per thread that allocates, up to 4 per CPU) and the ones already made.
  mallctl("arenas.dirty_decay_ms", nullptr, nullptr, &never, sizeof(never));
  mallctl("arenas.muzzy_decay_ms", nullptr, nullptr, &never, sizeof(never));
  const std::string all = "arena." + std::to_string(MALLCTL_ARENAS_ALL);
  mallctl((all + ".dirty_decay_ms").c_str(), nullptr, nullptr, &never, sizeof(never));
  mallctl((all + ".muzzy_decay_ms").c_str(), nullptr, nullptr, &never, sizeof(never));
}

std::string allocator_name() {
  // A malloc served by another allocator leaves jemalloc uninitialised; its "version" still
  // answers, so ask whether jemalloc has handed out any memory at all.
  size_t allocated = 0, size = sizeof(allocated);
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0 || allocated == 0)
    return "glibc";
  const char* version = nullptr;
  size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0) return "jemalloc";
  return std::string("jemalloc ") + version;
}

std::optional<int64_t> allocator_dirty_decay_ms() {
  ssize_t decay = 0;
  size_t size = sizeof(decay);
  if (allocator_name() == "glibc") return std::nullopt;
  if (mallctl("arenas.dirty_decay_ms", &decay, &size, nullptr, 0) != 0) return std::nullopt;
  return decay;
}

}  // namespace forensight
