// Process memory accounting (Linux /proc): what the metrics log and the benchmarks report.
#pragma once
#include <cstdint>

namespace forensight {

// Peak resident set size of this process so far (VmHWM), in bytes; 0 where unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 where unknown.
int64_t current_rss_bytes();

}  // namespace forensight
