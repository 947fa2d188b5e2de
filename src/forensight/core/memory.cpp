#include "forensight/core/memory.h"

#include <malloc.h>

#include <climits>
#include <fstream>
#include <string>

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
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);              // no block is served by its own mmap
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and the heap's free top is not handed back
#endif
}

}  // namespace forensight
