// Process memory accounting (Linux /proc): what the metrics log and the benchmarks report.
#pragma once
#include <cstdint>

namespace forensight {

// Peak resident set size of this process so far (VmHWM), in bytes; 0 where unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 where unknown.
int64_t current_rss_bytes();

// Makes the C allocator keep freed memory for reuse instead of returning it to the kernel. By
// default glibc serves every block over its mmap threshold (at most 32 MiB) with a fresh mmap and
// unmaps it on free, so each training step's activations (~100 MiB per tensor for ResNet18 at
// batch 32) are page-faulted and zeroed by the kernel again; measured here that cost a quarter of
// a CPU training step. After this call large blocks come from the heap and stay mapped: the
// process keeps its peak footprint until it exits, which is what a trainer or a server wants.
// Call once, at start-up, before threads allocate.
void retain_freed_memory();

}  // namespace forensight
