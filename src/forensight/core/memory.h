// Process memory accounting (Linux /proc): what the metrics log and the benchmarks report.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace forensight {

// Peak resident set size of this process so far (VmHWM), in bytes; 0 where unknown.
int64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 where unknown.
int64_t current_rss_bytes();

// The process allocates through jemalloc (linked into every Forensight executable), set up to keep
// freed memory for reuse instead of returning it to the kernel. Two measured reasons, on this
// project's 2-core VM, training ResNet18 at batch 32:
//  - glibc serves every block over its mmap threshold (at most 32 MiB) with a fresh mmap and
//    unmaps it on free, so each step's activations (~100 MiB per tensor) were page-faulted and
//    zeroed by the kernel again: a quarter of a CPU training step.
//  - With glibc told to keep such blocks in its heap instead, the heap fragments: peak RSS 2.34
//    GB against jemalloc's 1.59 GB for the same run, and every page of that footprint is faulted
//    in once per process (1-5 s for 2 GB in a VM whose host backs guest memory lazily).
// The process keeps its peak footprint until it exits, which is what a trainer or a server wants.
// Call once, at start-up: it applies the policy to every arena (jemalloc reads the same settings
// from `malloc_conf` before main; this makes them hold even where MALLOC_CONF overrode them).
void retain_freed_memory();

// The allocator serving malloc in this process and its version ("jemalloc 5.3.0-0-g..."), or
// "not jemalloc" where another one wins the symbol lookup (an LD_PRELOAD, say). Probes with a 1 MiB
// malloc, so not for a hot path.
std::string allocator_name();

// jemalloc's dirty-page decay time (ms) for new arenas: -1 means freed pages are never returned to
// the kernel. Nullopt where jemalloc is not the allocator in use.
std::optional<int64_t> allocator_dirty_decay_ms();

}  // namespace forensight
