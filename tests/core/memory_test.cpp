// retain_freed_memory: a large block freed and allocated again is served from memory the process
// already has, without the kernel faulting (and zeroing) its pages in a second time; jemalloc is
// the allocator that does it.
#include "forensight/core/memory.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

namespace forensight {
namespace {

// ASan and TSan replace malloc (their runtime comes first in the symbol lookup, before jemalloc),
// so in the sanitizer builds (scripts/sanitize.sh) jemalloc serves nothing and its policy is not
// what these tests can see.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates, touches every page of and frees `bytes`; returns the minor faults it caused.
long faults_of_one_use(size_t bytes) {
  const long before = minor_page_faults();
  auto* block = static_cast<char*>(std::malloc(bytes));
  EXPECT_NE(block, nullptr);
  std::memset(block, 1, bytes);
  volatile char sink = block[bytes - 1];
  (void)sink;
  std::free(block);
  return minor_page_faults() - before;
}

TEST(MemoryTest, FreedLargeBlocksAreReusedWithoutPageFaults) {
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator serves malloc, not jemalloc";
  retain_freed_memory();
  constexpr size_t kBytes = 64u << 20;  // a huge block to jemalloc, and over glibc's mmap threshold
  constexpr long kPages = static_cast<long>(kBytes / 4096);
  faults_of_one_use(kBytes);  // the first use maps the memory
  const long second = faults_of_one_use(kBytes);
  // Without retention every one of the 16384 pages faults again on each use.
  EXPECT_LT(second, kPages / 10) << "the second use faulted " << second << " of " << kPages
                                 << " pages";
}

TEST(MemoryTest, JemallocServesMallocAndNeverDecaysFreedPages) {
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator serves malloc, not jemalloc";
  retain_freed_memory();
  EXPECT_EQ(allocator_name().rfind("jemalloc ", 0), 0u) << allocator_name();
  ASSERT_TRUE(allocator_dirty_decay_ms().has_value());
  EXPECT_EQ(*allocator_dirty_decay_ms(), -1);
}

TEST(MemoryTest, ResidentSetSizesAreReported) {
  EXPECT_GT(current_rss_bytes(), 0);
  EXPECT_GE(peak_rss_bytes(), current_rss_bytes());
}

}  // namespace
}  // namespace forensight
