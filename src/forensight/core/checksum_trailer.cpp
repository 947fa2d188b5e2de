#include "forensight/core/checksum_trailer.h"

#include <cstring>

#include "forensight/core/crc32.h"
#include "forensight/core/error.h"

namespace forensight {
namespace {

constexpr char kMagic[8] = {'F', 'S', 'C', 'R', 'C', '3', '2', '\0'};

}  // namespace

std::array<uint8_t, kChecksumTrailerBytes> make_checksum_trailer(uint64_t payload_bytes,
                                                                 uint32_t crc32) {
  std::array<uint8_t, kChecksumTrailerBytes> trailer{};
  std::memcpy(trailer.data(), kMagic, sizeof(kMagic));
  std::memcpy(trailer.data() + 8, &payload_bytes, 8);  // x86-64 and aarch64: little-endian
  std::memcpy(trailer.data() + 16, &crc32, 4);
  return trailer;
}

ChecksummedPayload check_checksum_trailer(std::span<const uint8_t> file, const std::string& what,
                                          const std::string& path) {
  ChecksummedPayload result;
  result.payload = file;
  if (file.size() < kChecksumTrailerBytes) return result;
  const uint8_t* trailer = file.data() + file.size() - kChecksumTrailerBytes;
  if (std::memcmp(trailer, kMagic, sizeof(kMagic)) != 0) return result;
  uint64_t payload_bytes = 0;
  uint32_t expected_crc = 0;
  std::memcpy(&payload_bytes, trailer + 8, 8);
  std::memcpy(&expected_crc, trailer + 16, 4);
  const uint64_t actual_bytes = file.size() - kChecksumTrailerBytes;
  FS_CHECK(payload_bytes == actual_bytes,
           "{} '{}' is corrupt: its checksum trailer covers {} bytes but {} precede it (a partial "
           "or spliced file)",
           what, path, payload_bytes, actual_bytes);
  result.has_trailer = true;
  result.payload = file.first(actual_bytes);
  const uint32_t actual_crc = crc32_update(kCrc32Initial, result.payload);
  FS_CHECK(actual_crc == expected_crc,
           "{} '{}' is corrupt: the CRC-32 of its {} bytes is {:08x}, its trailer says {:08x} (a "
           "flipped bit or a torn write)",
           what, path, actual_bytes, actual_crc, expected_crc);
  return result;
}

}  // namespace forensight
