#include "forensight/core/memory.h"

#include <jemalloc/jemalloc.h>

#include <cstdlib>
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

namespace {
// Bytes jemalloc has handed out, refreshed.
size_t jemalloc_allocated_bytes() {
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  mallctl("epoch", &epoch, &size, &epoch, size);
  size_t allocated = 0;
  size = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0) return 0;
  return allocated;
}

// Whether malloc is jemalloc's: a 1 MiB block must show in jemalloc's own count. (Its count is not
// zero even when another malloc wins the symbol lookup: jemalloc allocates for itself.)
bool jemalloc_serves_malloc() {
  constexpr size_t kProbe = 1 << 20;
  const size_t before = jemalloc_allocated_bytes();
  auto* probe = static_cast<volatile char*>(std::malloc(kProbe));
  if (probe == nullptr) return false;
  probe[0] = 1;  // used, so that the compiler keeps the allocation
  const size_t after = jemalloc_allocated_bytes();
  std::free(const_cast<char*>(probe));
  return after >= before + kProbe;
}
}  // namespace

std::string allocator_name() {
  if (!jemalloc_serves_malloc()) return "not jemalloc";
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0) return "jemalloc";
  return std::string("jemalloc ") + version;
}

std::optional<int64_t> allocator_dirty_decay_ms() {
  ssize_t decay = 0;
  size_t size = sizeof(decay);
  if (!jemalloc_serves_malloc()) return std::nullopt;
  if (mallctl("arenas.dirty_decay_ms", &decay, &size, nullptr, 0) != 0) return std::nullopt;
  return decay;
}

}  // namespace forensight
