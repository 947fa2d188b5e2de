// The decoded cache as the loader opens it (data/decoded_cache.h): header, layout, index, and
// every record, label and path read back. The header and data CRCs are recomputed over the input
// before it is written, or nearly every mutation would stop at the checksum and the layout checks
// behind it would go unfuzzed; the offsets mirror decoded_cache.cpp's 64-byte Header.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/data/decoded_cache.h"
#include "fuzz_input_file.h"

namespace {

constexpr size_t kHeaderBytes = 64;
constexpr size_t kDataCrcOffset = 48;    // uint32 over bytes [64, end)
constexpr size_t kHeaderCrcOffset = 52;  // uint32 over bytes [0, 52)

void fix_checksums(std::vector<uint8_t>& bytes) {
  if (bytes.size() < kHeaderBytes) return;
  uint32_t data_crc =
      static_cast<uint32_t>(::crc32(::crc32(0, nullptr, 0), bytes.data() + kHeaderBytes,
                                    static_cast<uInt>(bytes.size() - kHeaderBytes)));
  std::memcpy(bytes.data() + kDataCrcOffset, &data_crc, 4);
  uint32_t header_crc = static_cast<uint32_t>(
      ::crc32(::crc32(0, nullptr, 0), bytes.data(), static_cast<uInt>(kHeaderCrcOffset)));
  std::memcpy(bytes.data() + kHeaderCrcOffset, &header_crc, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("cache.fsdc");
  std::vector<uint8_t> bytes(data, data + size);
  fix_checksums(bytes);
  try {
    forensight::data::DecodedCache cache(file.write(bytes.data(), bytes.size()));
    const size_t record_bytes =
        static_cast<size_t>(3) * cache.image_size_px() * cache.image_size_px();
    uint64_t sum = 0;
    for (int64_t i = 0; i < cache.size(); ++i) {
      std::span<const uint8_t> record = cache.record(i);
      if (record.size() != record_bytes) std::abort();
      // Touch the first and last byte: a record that runs past the mapping faults here.
      if (!record.empty()) sum += record.front() + record.back();
      sum += static_cast<uint64_t>(cache.label(i)) + cache.path(i).size();
    }
    forensight::data::Dataset dataset = cache.as_dataset();
    if (static_cast<int64_t>(dataset.size()) != cache.size()) std::abort();
    (void)sum;
  } catch (const forensight::Error&) {
  }
  return 0;
}
