// The zip directory check: no entry of any directory a reader could take may declare more bytes
// than the file holds, zip64 fields included, before miniz (inside LibTorch) opens the file.
#include "forensight/core/zip_directory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../support/error_of.h"

namespace forensight {
namespace {

using forensight::testing::error_of;

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

struct ZipOptions {
  uint32_t size32 = 5;       // the central directory's 32-bit sizes
  bool zip64_field = false;  // an extra field with the 64-bit sizes (size32 then 0xffffffff)
  uint64_t size64 = 5;
  bool zip64_records = false;  // a zip64 end-of-directory record and locator
  std::string prefix;          // bytes before the archive
};

// One stored entry "archive/version" holding "3\n\n\n\n", as PyTorch writes it.
std::vector<uint8_t> make_zip(const ZipOptions& o) {
  const std::string name = "archive/version";
  const std::string data = "3\n\n\n\n";
  std::vector<uint8_t> z(o.prefix.begin(), o.prefix.end());
  const uint64_t local = 0;  // offsets are from the archive's start
  put_le(z, 0x04034b50, 4);
  put_le(z, 20, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 2);  // stored
  put_le(z, 0, 4);
  put_le(z, 0, 4);  // crc (not checked here)
  put_le(z, data.size(), 4);
  put_le(z, data.size(), 4);
  put_le(z, name.size(), 2);
  put_le(z, 0, 2);
  z.insert(z.end(), name.begin(), name.end());
  z.insert(z.end(), data.begin(), data.end());
  const uint64_t directory = z.size() - o.prefix.size();
  const uint32_t size32 = o.zip64_field ? 0xffffffff : o.size32;
  put_le(z, 0x02014b50, 4);
  put_le(z, 45, 2);
  put_le(z, 45, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 4);
  put_le(z, 0, 4);
  put_le(z, size32, 4);
  put_le(z, size32, 4);
  put_le(z, name.size(), 2);
  put_le(z, o.zip64_field ? 20 : 0, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 2);
  put_le(z, 0, 4);
  put_le(z, local, 4);
  z.insert(z.end(), name.begin(), name.end());
  if (o.zip64_field) {
    put_le(z, 0x0001, 2);
    put_le(z, 16, 2);
    put_le(z, o.size64, 8);  // unpacked
    put_le(z, o.size64, 8);  // stored
  }
  const uint64_t directory_bytes = z.size() - o.prefix.size() - directory;
  if (o.zip64_records) {
    const uint64_t record = z.size() - o.prefix.size();
    put_le(z, 0x06064b50, 4);
    put_le(z, 44, 8);
    put_le(z, 45, 2);
    put_le(z, 45, 2);
    put_le(z, 0, 4);
    put_le(z, 0, 4);
    put_le(z, 1, 8);
    put_le(z, 1, 8);
    put_le(z, directory_bytes, 8);
    put_le(z, directory, 8);
    put_le(z, 0x07064b50, 4);
    put_le(z, 0, 4);
    put_le(z, record, 8);
    put_le(z, 1, 4);
  }
  put_le(z, 0x06054b50, 4);
  put_le(z, 0, 2);
  put_le(z, 0, 2);
  put_le(z, o.zip64_records ? 0xffff : 1, 2);
  put_le(z, o.zip64_records ? 0xffff : 1, 2);
  put_le(z, o.zip64_records ? 0xffffffff : directory_bytes, 4);
  put_le(z, o.zip64_records ? 0xffffffff : directory, 4);
  put_le(z, 0, 2);
  return z;
}

std::string zip_refusal(const ZipOptions& o) {
  const std::vector<uint8_t> zip = make_zip(o);
  return error_of([&] { check_zip_directory(zip, "'model.pt'"); });
}

TEST(ZipDirectoryTest, ArchivesWhoseEntriesFitPass) {
  EXPECT_EQ(zip_refusal({}), "");
  EXPECT_EQ(zip_refusal({.zip64_field = true}), "");
  EXPECT_EQ(zip_refusal({.zip64_field = true, .zip64_records = true}), "");
  EXPECT_EQ(zip_refusal({.prefix = std::string(100, 'x')}), "");
  const std::vector<uint8_t> nothing;
  EXPECT_EQ(error_of([&] { check_zip_directory(nothing, "x"); }), "");  // the reader refuses it
}

TEST(ZipDirectoryTest, ThirtyTwoBitSizeThatMeansSeeZip64WithoutTheFieldIsRefused) {
  // fuzz/regressions/torch_save/reader-init-reads-4gib-version.bin: miniz takes 0xffffffff as it
  // is when no zip64 field follows, and LibTorch's constructor allocates it for the version.
  const std::string error = zip_refusal({.size32 = 0xffffffff});
  EXPECT_NE(error.find("'model.pt': the zip directory's entry 'archive/version' declares "
                       "4294967295 bytes (4294967295 stored), more than the whole file's"),
            std::string::npos)
      << error;
}

TEST(ZipDirectoryTest, Zip64SizesPastTheFileAreRefusedInEveryDirectory) {
  const uint64_t huge = uint64_t{1} << 40;
  EXPECT_NE(zip_refusal({.zip64_field = true, .size64 = huge}).find("declares 1099511627776 bytes"),
            std::string::npos);
  EXPECT_NE(zip_refusal({.zip64_field = true, .size64 = huge, .zip64_records = true})
                .find("entry 'archive/version'"),
            std::string::npos);
  // An archive after other bytes: its directory is found measured back from its end record.
  EXPECT_NE(zip_refusal({.zip64_field = true, .size64 = huge, .prefix = std::string(64, 'x')})
                .find("declares 1099511627776"),
            std::string::npos);
}

TEST(ZipDirectoryTest, FilesShorterThanAZip64RecordAreNotReadPastTheirEnd) {
  // fuzz/regressions/torch_save/zip64-locator-in-55-bytes.bin: an end record with a zip64 locator
  // before it, in fewer bytes than a zip64 record takes (the bound wrapped around; ASan).
  for (size_t size = 42; size < 100; ++size) {
    std::vector<uint8_t> file(size, 0);
    const size_t eocd = size - 22;
    const size_t locator = eocd - 20;
    for (int i = 0; i < 4; ++i) {
      file[eocd + i] = static_cast<uint8_t>(0x06054b50u >> (8 * i));
      file[locator + i] = static_cast<uint8_t>(0x07064b50u >> (8 * i));
    }
    EXPECT_EQ(error_of([&] { check_zip_directory(file, "x"); }), "") << size;
  }
}

}  // namespace
}  // namespace forensight
