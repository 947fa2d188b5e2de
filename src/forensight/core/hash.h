// FNV-1a 64-bit hashing: content fingerprints for duplicate detection. Not cryptographic; chosen
// because it needs no library and is stable across machines, so reports can be compared.
#pragma once
#include <cstdint>
#include <span>

namespace forensight {

constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnv1a64Prime = 0x100000001b3ULL;

// Continues a running hash (start from kFnv1a64Offset) over `bytes`.
inline uint64_t fnv1a64(std::span<const uint8_t> bytes, uint64_t hash = kFnv1a64Offset) {
  for (uint8_t b : bytes) {
    hash ^= b;
    hash *= kFnv1a64Prime;
  }
  return hash;
}

}  // namespace forensight
