// The archive check before LibTorch reads a zip: a real LibTorch archive passes and its storages
// are read from its pickle; the two fuzz findings it was written for are refused by name.
#include "forensight/models/torch_archive_check.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "../support/build_paths.h"
#include "../support/error_of.h"
#include "forensight/core/pickle_storages.h"

namespace forensight::models {
namespace {

using forensight::testing::error_of;

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string regression_input(const std::string& name) {
  return forensight::testing::test_source_dir() + "/../fuzz/regressions/" + name;
}

TEST(TorchArchiveCheckTest, LibTorchArchivePassesAndItsStoragesAreRead) {
  torch::serialize::OutputArchive archive;
  archive.write("weights", torch::arange(12, torch::kFloat32));
  archive.write("step", torch::tensor(int64_t{7}));
  std::ostringstream out;
  archive.save_to(out);
  const std::string s = out.str();
  const std::vector<uint8_t> bytes(s.begin(), s.end());

  const auto reader = open_torch_archive(bytes, "'in-memory'");
  ASSERT_TRUE(reader->hasRecord("data.pkl"));
  const auto [data, size] = reader->getRecord("data.pkl");
  const auto found = pickled_storages({static_cast<const uint8_t*>(data.get()), size}, "data.pkl");
  ASSERT_EQ(found.size(), 2u);
  std::vector<int64_t> elements{found[0].elements, found[1].elements};
  std::sort(elements.begin(), elements.end());
  EXPECT_EQ(elements, (std::vector<int64_t>{1, 12}));
  for (const auto& storage : found) EXPECT_TRUE(reader->hasRecord("data/" + storage.key));
}

TEST(TorchArchiveCheckTest, VersionRecordDeclaringFourGibibytesIsRefusedBeforeLibTorchOpensIt) {
  const std::vector<uint8_t> bytes =
      file_bytes(regression_input("torch_save/reader-init-reads-4gib-version.bin"));
  ASSERT_GT(bytes.size(), 1000u);
  const std::string error = error_of([&] { open_torch_archive(bytes, "'crafted.pt'"); });
  EXPECT_NE(error.find("'crafted.pt': the zip directory's entry 'archive/version' declares "
                       "4294967295 bytes"),
            std::string::npos)
      << error;
}

TEST(TorchArchiveCheckTest, StorageLongerThanItsRecordIsRefusedNamingBoth) {
  const std::vector<uint8_t> bytes =
      file_bytes(regression_input("checkpoint/storage-shorter-than-declared.bin"));
  ASSERT_GT(bytes.size(), 10000u);
  const std::string error = error_of([&] { open_torch_archive(bytes, "checkpoint 'x.pt'"); });
  EXPECT_NE(error.find("checkpoint 'x.pt' (record data.pkl): storage "), std::string::npos)
      << error;
  EXPECT_NE(error.find("but its record data/"), std::string::npos) << error;
}

}  // namespace
}  // namespace forensight::models
