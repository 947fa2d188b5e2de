#include "forensight/core/zip_directory.h"

#include <set>
#include <string_view>
#include <tuple>

#include "forensight/core/error.h"

namespace forensight {
namespace {

// The zip format's record signatures and fixed sizes (PKWARE's APPNOTE, section 4.3).
constexpr uint32_t kEndOfDirectorySignature = 0x06054b50;
constexpr uint32_t kZip64EndOfDirectorySignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kDirectoryEntrySignature = 0x02014b50;
constexpr uint64_t kEndOfDirectoryBytes = 22;
constexpr uint64_t kZip64EndOfDirectoryBytes = 56;
constexpr uint64_t kZip64LocatorBytes = 20;
constexpr uint64_t kDirectoryEntryBytes = 46;
constexpr uint64_t kLocalHeaderBytes = 30;
constexpr uint16_t kZip64ExtraField = 0x0001;
constexpr uint32_t kSeeZip64 = 0xffffffff;
// The end-of-directory record may be followed by a comment of up to 64 KiB; readers scan that far
// back from the end (miniz in blocks of 4 KiB, hence the margin).
constexpr uint64_t kEndOfDirectorySearch = 0xffff + kEndOfDirectoryBytes + 4096;

uint64_t read_le(std::span<const uint8_t> file, uint64_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | file[at + i];
  return v;
}

struct Directory {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint64_t entries = 0;
  bool operator<(const Directory& o) const {
    return std::tie(offset, bytes, entries) < std::tie(o.offset, o.bytes, o.entries);
  }
};

// The entry's sizes and data offset, from its zip64 field where a 32-bit one says 0xffffffff.
struct EntryExtent {
  uint64_t packed = 0;
  uint64_t unpacked = 0;
  uint64_t local_header = 0;
};

EntryExtent extent_of(std::span<const uint8_t> file, uint64_t entry, uint64_t extra_at,
                      uint64_t extra_bytes) {
  EntryExtent e{read_le(file, entry + 20, 4), read_le(file, entry + 24, 4),
                read_le(file, entry + 42, 4)};
  uint64_t at = extra_at;
  const uint64_t end = extra_at + extra_bytes;
  while (at + 4 <= end) {
    const uint64_t id = read_le(file, at, 2);
    const uint64_t size = read_le(file, at + 2, 2);
    if (at + 4 + size > end) break;
    if (id == kZip64ExtraField) {
      // The 64-bit values are there only for the fields that say 0xffffffff, in this order.
      uint64_t field = at + 4;
      for (uint64_t* value : {&e.unpacked, &e.packed, &e.local_header}) {
        if (*value != kSeeZip64) continue;
        if (field + 8 > at + 4 + size) break;
        *value = read_le(file, field, 8);
        field += 8;
      }
      break;
    }
    at += 4 + size;
  }
  return e;
}

void check_directory(std::span<const uint8_t> file, const Directory& d, const std::string& what) {
  const uint64_t size = file.size();
  if (d.offset > size || d.bytes > size - d.offset) return;  // the reader refuses it
  const uint64_t end = d.offset + d.bytes;
  uint64_t at = d.offset;
  for (uint64_t i = 0; i < d.entries && at + kDirectoryEntryBytes <= end; ++i) {
    if (read_le(file, at, 4) != kDirectoryEntrySignature) return;
    const uint64_t name_bytes = read_le(file, at + 28, 2);
    const uint64_t extra_bytes = read_le(file, at + 30, 2);
    const uint64_t comment_bytes = read_le(file, at + 32, 2);
    const uint64_t next = at + kDirectoryEntryBytes + name_bytes + extra_bytes + comment_bytes;
    if (next > end) return;
    const std::string_view name(reinterpret_cast<const char*>(file.data() + at + 46), name_bytes);
    const EntryExtent e = extent_of(file, at, at + kDirectoryEntryBytes + name_bytes, extra_bytes);
    FS_CHECK(e.unpacked <= size && e.packed <= size,
             "{}: the zip directory's entry '{}' declares {} bytes ({} stored), more than the "
             "whole file's {} (a damaged or crafted file)",
             what, name, e.unpacked, e.packed, size);
    FS_CHECK(e.packed <= size - kLocalHeaderBytes &&
                 e.local_header <= size - kLocalHeaderBytes - e.packed,
             "{}: the zip directory's entry '{}' puts its {} bytes at offset {}, past the end of "
             "the file's {} (a damaged or crafted file)",
             what, name, e.packed, e.local_header, size);
    at = next;
  }
}

}  // namespace

void check_zip_directory(std::span<const uint8_t> file, const std::string& what) {
  const uint64_t size = file.size();
  if (size < kEndOfDirectoryBytes + kLocalHeaderBytes) return;  // no archive: the reader says so
  std::set<Directory> directories;
  const uint64_t lowest = size > kEndOfDirectorySearch ? size - kEndOfDirectorySearch : 0;
  for (uint64_t eocd = size - kEndOfDirectoryBytes + 1; eocd-- > lowest;) {
    if (read_le(file, eocd, 4) != kEndOfDirectorySignature) continue;
    // Where it says, and measured back from itself (an archive after other data).
    const auto add = [&](uint64_t offset, uint64_t bytes, uint64_t entries, uint64_t before) {
      directories.insert({offset, bytes, entries});
      if (bytes <= before) directories.insert({before - bytes, bytes, entries});
    };
    const uint64_t offset32 = read_le(file, eocd + 16, 4);
    const uint64_t bytes32 = read_le(file, eocd + 12, 4);
    if (offset32 != kSeeZip64 && bytes32 != kSeeZip64)
      add(offset32, bytes32, read_le(file, eocd + 10, 2), eocd);
    if (eocd < kZip64LocatorBytes) continue;
    const uint64_t locator = eocd - kZip64LocatorBytes;
    if (read_le(file, locator, 4) != kZip64LocatorSignature) continue;
    // The zip64 record right before the locator (miniz 3 looks there first), or where it says.
    std::set<uint64_t> records;
    if (locator >= kZip64EndOfDirectoryBytes) records.insert(locator - kZip64EndOfDirectoryBytes);
    records.insert(read_le(file, locator + 8, 8));
    for (const uint64_t record : records) {
      if (size < kZip64EndOfDirectoryBytes || record > size - kZip64EndOfDirectoryBytes) continue;
      if (read_le(file, record, 4) != kZip64EndOfDirectorySignature) continue;
      add(read_le(file, record + 48, 8), read_le(file, record + 40, 8),
          read_le(file, record + 32, 8), record);
    }
  }
  for (const Directory& d : directories) check_directory(file, d, what);
}

}  // namespace forensight
