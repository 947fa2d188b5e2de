// The loader under data faults (issue #18 section 5): every damaged file of a dataset is skipped
// and reported once with its reason, and files that vanish or change between or during epochs
// are reported the same way, without ending the epoch.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "../support/bad_files.h"
#include "forensight/data/loader.h"
#include "test_files.h"

namespace forensight::data {
namespace {
using test_files::ScratchDir;

std::map<std::string, std::string> by_path(const std::vector<SkippedFile>& files) {
  std::map<std::string, std::string> reasons;
  for (const auto& f : files) reasons[f.path] = f.reason;
  return reasons;
}

// The samples one epoch delivers (the loader skips the bad files).
int64_t samples_in_epoch(DataLoader& loader, int64_t epoch) {
  int64_t samples = 0;
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) samples += batch->images.size(0);
  return samples;
}

class LoaderFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 18; ++i)
      test_files::write_jpeg(dir_ / fmt::format("{}/img{:02d}.jpg", i % 2 ? "0_real" : "1_fake", i),
                             24 + i, 20 + i, i);
    bad_ = forensight::testing::write_bad_files(dir_ / "1_fake", "bad-", dir_ / "1_fake/img00.jpg");
    // Content decides, not the name: a PNG called .jpg is an image and is used.
    test_files::write_text(dir_ / "0_real/png-named.jpg", forensight::testing::png_declaring(4, 4));
    test_files::write_jpeg(dir_ / "0_real/tmp.jpg", 20, 20, 99);
    std::filesystem::rename(dir_ / "0_real/tmp.jpg", dir_ / "0_real/jpeg-named.png");
    dataset_ = load_dataset(dir_.path().string());
    transform_.image_size_px = 16;
    options_.batch_size = 4;
  }

  std::string good_path(int i) const {
    return dir_ / fmt::format("{}/img{:02d}.jpg", i % 2 ? "0_real" : "1_fake", i);
  }

  ScratchDir dir_{"loader-faults"};
  std::vector<forensight::testing::BadFile> bad_;
  Dataset dataset_;
  TransformOptions transform_;
  LoaderOptions options_;
};

TEST_F(LoaderFaultsTest, EachBadFileIsReportedOnceWithItsReason) {
  ASSERT_EQ(dataset_.size(), 18u + bad_.size() + 2);
  for (int workers : {0, 2}) {
    options_.workers = workers;
    DataLoader loader(dataset_, {}, transform_, options_);
    EXPECT_EQ(samples_in_epoch(loader, 0), 20)
        << "18 JPEGs, the PNG named .jpg and the JPEG named .png";
    const auto reasons = by_path(loader.take_skipped());
    ASSERT_EQ(reasons.size(), bad_.size()) << workers << " workers";
    const std::map<std::string, std::string> expected_words = {
        {"corrupt", "not a JPEG, PNG or WebP"},
        {"truncated", "truncated"},
        {"zero-byte", "is empty (0 bytes)"},
        {"oversized", "pixels"},
        {"wrong-extension", "not a JPEG, PNG or WebP"}};
    for (const auto& bad : bad_) {
      ASSERT_TRUE(reasons.count(bad.path)) << bad.kind << " not reported";
      const std::string& reason = reasons.at(bad.path);
      EXPECT_NE(reason.find(expected_words.at(bad.kind)), std::string::npos)
          << bad.kind << ": " << reason;
      EXPECT_EQ(reason.find("'" + bad.path + "'"), std::string::npos)
          << "the path has a column of its own: " << reason;
    }
    // The same files failing the same way in the next epoch are counted, not reported again.
    EXPECT_EQ(samples_in_epoch(loader, 1), 20);
    EXPECT_EQ(loader.epoch_stats().skipped, static_cast<int64_t>(bad_.size()));
    EXPECT_TRUE(loader.take_skipped().empty());
  }
}

TEST_F(LoaderFaultsTest, FileDeletedBetweenEpochsIsReported) {
  options_.workers = 2;
  DataLoader loader(dataset_, {}, transform_, options_);
  samples_in_epoch(loader, 0);
  loader.take_skipped();
  std::filesystem::remove(good_path(3));
  EXPECT_EQ(samples_in_epoch(loader, 1), 19);
  const auto reasons = by_path(loader.take_skipped());
  ASSERT_EQ(reasons.size(), 1u);
  ASSERT_TRUE(reasons.count(good_path(3)));
  EXPECT_NE(reasons.at(good_path(3)).find("No such file or directory"), std::string::npos)
      << reasons.at(good_path(3));
}

TEST_F(LoaderFaultsTest, FilesThatVanishOrChangeMidEpochAreReportedAndTheEpochEnds) {
  // Without workers a batch is read when next() asks for it, so files can change between batches
  // of one epoch deterministically.
  options_.workers = 0;
  options_.shuffle = false;
  DataLoader loader(dataset_, {}, transform_, options_);
  loader.start_epoch(0);
  auto first = loader.next();
  ASSERT_TRUE(first.has_value());
  std::set<int64_t> read(first->indices.data_ptr<int64_t>(),
                         first->indices.data_ptr<int64_t>() + first->indices.size(0));
  // Two good files the epoch has not read yet: one vanishes, one is overwritten with garbage.
  std::vector<std::string> later;
  for (size_t i = 0; i < dataset_.size() && later.size() < 2; ++i) {
    const std::string& path = dataset_.samples[i].path;
    if (!read.count(static_cast<int64_t>(i)) && path.find("/img") != std::string::npos)
      later.push_back(path);
  }
  ASSERT_EQ(later.size(), 2u);
  std::filesystem::remove(later[0]);
  test_files::write_text(later[1], "replaced while the epoch ran");
  int64_t samples = first->images.size(0);
  while (auto batch = loader.next()) samples += batch->images.size(0);
  EXPECT_EQ(samples, 18);
  const auto reasons = by_path(loader.take_skipped());
  EXPECT_EQ(reasons.size(), bad_.size() + 2);
  ASSERT_TRUE(reasons.count(later[0]));
  ASSERT_TRUE(reasons.count(later[1]));
  EXPECT_NE(reasons.at(later[0]).find("No such file or directory"), std::string::npos);
  EXPECT_NE(reasons.at(later[1]).find("not a JPEG, PNG or WebP"), std::string::npos)
      << reasons.at(later[1]);
}

}  // namespace
}  // namespace forensight::data
