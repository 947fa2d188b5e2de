// A CRC-32 trailer appended to a binary file whose own format does not check its contents:
// LibTorch's archive is a zip whose tensors are stored uncompressed and whose per-entry CRCs are
// not verified on read, so a flipped bit in a weight loads silently. The trailer goes after the
// payload, where zip readers (LibTorch's, Python's torch.load) ignore it.
// Layout: payload | "FSCRC32" '\0' | uint64 payload_bytes | uint32 crc32 | uint32 0 (little-endian)
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace forensight {

constexpr size_t kChecksumTrailerBytes = 24;

std::array<uint8_t, kChecksumTrailerBytes> make_checksum_trailer(uint64_t payload_bytes,
                                                                 uint32_t crc32);

struct ChecksummedPayload {
  bool has_trailer = false;          // false: a file written before trailers (or cut short)
  std::span<const uint8_t> payload;  // the bytes before the trailer (all of them without one)
};

// Finds and checks the trailer at the end of `file`. Throws Error naming `what` and `path` when
// there is one and the payload's length or CRC-32 disagree with it (truncated, appended to, or a
// flipped bit); a file without one comes back whole with has_trailer = false, for the caller to
// judge (its format version says whether a trailer was due).
ChecksummedPayload check_checksum_trailer(std::span<const uint8_t> file, const std::string& what,
                                          const std::string& path);

}  // namespace forensight
