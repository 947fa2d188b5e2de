// Splits: spec parsing, determinism, stratification, groups kept whole, and the saved file.
#include "forensight/data/split.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "../support/error_of.h"
#include "../support/scoped_write_fault.h"
#include "forensight/core/error.h"
#include "test_files.h"

namespace forensight::data {
namespace {

// n samples, a fraction `fake_share` labelled fake, optionally in groups of `group_size`.
Dataset make_dataset(int n, double fake_share, int group_size = 0) {
  Dataset d;
  d.root = "/data/set";
  for (int i = 0; i < n; ++i) {
    Sample s;
    s.path = "/data/set/img" + std::to_string(i) + ".jpg";
    s.label = i < n * fake_share ? kLabelFake : kLabelReal;
    // fmt, not "g" + std::to_string(): gcc 12 at -O3 warns a false -Wstringop-overflow on that.
    if (group_size > 0) s.group = fmt::format("g{}", i / group_size);
    d.samples.push_back(s);
  }
  return d;
}

using forensight::testing::error_of;

TEST(SplitTest, ParsesCountsAndFractions) {
  auto counts = parse_split_spec("50000/15000/15000");
  EXPECT_FALSE(counts.fractions);
  EXPECT_EQ(counts.parts[1], 15000);
  auto fractions = parse_split_spec("0.8/0.1/0.1");
  EXPECT_TRUE(fractions.fractions);
  EXPECT_DOUBLE_EQ(fractions.parts[0], 0.8);
  auto two = parse_split_spec("0.9/0.1");
  EXPECT_EQ(two.parts[2], 0);
}

TEST(SplitTest, BadSpecsAreErrorsShowingTheForms) {
  for (std::string bad : {"", "a/b", "0.8/-0.1/0.1", "0.7/0.7", "1/2/3/4", "10//5", "1.5"}) {
    std::string msg = error_of([&] { parse_split_spec(bad); });
    EXPECT_NE(msg.find("0.8/0.1/0.1"), std::string::npos) << "'" << bad << "': " << msg;
  }
}

TEST(SplitTest, CountsLargerThanTheDataAreAClearError) {
  Dataset d = make_dataset(100, 0.5);
  std::string msg = error_of([&] { make_split(d, parse_split_spec("80/15/15"), 1); });
  EXPECT_NE(msg.find("110"), std::string::npos) << msg;
  EXPECT_NE(msg.find("has 100"), std::string::npos) << msg;
}

TEST(SplitTest, ExactCountsDisjointAndDeterministic) {
  Dataset d = make_dataset(1000, 0.3);
  auto spec = parse_split_spec("600/200/100");
  Split a = make_split(d, spec, 42);
  Split b = make_split(d, spec, 42);
  Split c = make_split(d, spec, 43);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_NE(a.indices, c.indices);
  EXPECT_EQ(a.train().size(), 600u);
  EXPECT_EQ(a.val().size(), 200u);
  EXPECT_EQ(a.test().size(), 100u);
  std::set<int64_t> all;
  for (const auto& part : a.indices)
    for (int64_t i : part) EXPECT_TRUE(all.insert(i).second) << "index " << i << " in two splits";
}

TEST(SplitTest, FractionsUseEverySampleAndAreStratified) {
  Dataset d = make_dataset(1001, 0.3);
  Split s = make_split(d, parse_split_spec("0.8/0.1/0.1"), 5);
  EXPECT_EQ(s.train().size() + s.val().size() + s.test().size(), 1001u);
  for (const auto& part : s.indices) {
    double fake = 0;
    for (int64_t i : part) fake += d.samples[i].label == kLabelFake;
    // Each split holds the dataset's 30 % fakes up to one sample of rounding.
    EXPECT_NEAR(fake, 0.3 * part.size(), 1.0) << part.size();
  }
}

TEST(SplitTest, GroupsStayInOneSplit) {
  Dataset d = make_dataset(600, 0.5, /*group_size=*/7);
  Split s = make_split(d, parse_split_spec("0.7/0.15/0.15"), 9);
  std::map<std::string, std::set<int>> where;
  for (int p = 0; p < 3; ++p)
    for (int64_t i : s.indices[p]) where[d.samples[i].group].insert(p);
  for (const auto& [group, parts] : where) EXPECT_EQ(parts.size(), 1u) << group;
  EXPECT_EQ(s.train().size() + s.val().size() + s.test().size(), 600u);
  EXPECT_NEAR(static_cast<double>(s.train().size()), 420.0, 14.0);  // within two groups
}

TEST(SplitTest, SaveAndLoadRoundTripAndRefuseChangedData) {
  test_files::ScratchDir dir("split");
  Dataset d = make_dataset(50, 0.5);
  Split s = make_split(d, parse_split_spec("30/10/10"), 1);
  std::string file = dir / "run/split.json";
  save_split(s, d, file);
  Split loaded = load_split(file, d);
  EXPECT_EQ(loaded.indices, s.indices);
  EXPECT_EQ(loaded.seed, 1u);
  EXPECT_EQ(loaded.spec, "30/10/10");

  Dataset renamed = d;
  renamed.samples[s.val()[0]].path = "/data/set/other.jpg";
  std::string msg = error_of([&] { load_split(file, renamed); });
  EXPECT_NE(msg.find("other.jpg"), std::string::npos) << msg;

  Dataset smaller = make_dataset(49, 0.5);
  msg = error_of([&] { load_split(file, smaller); });
  EXPECT_NE(msg.find("49"), std::string::npos) << msg;
}

// The split file carries a CRC-32 of its content: a changed digit, a cut-short file and a full disk
// are errors naming the file; a file from before the CRC still loads.
TEST(SplitTest, CorruptTruncatedAndUncheckedFiles) {
  test_files::ScratchDir dir("split-crc");
  Dataset d = make_dataset(20, 0.5);
  Split s = make_split(d, parse_split_spec("10/5/5"), 3);
  const std::string file = dir / "split.json";
  save_split(s, d, file);
  std::ifstream in(file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto load_text = [&](const std::string& content) {
    test_files::write_text(dir / "edited.json", content);
    return error_of([&] { load_split(dir / "edited.json", d); });
  };
  // The seed's first digit changed: valid JSON, same size, so only the checksum sees it.
  std::string flipped = text;
  const size_t seed_at = flipped.find("\"seed\": 3");
  ASSERT_NE(seed_at, std::string::npos) << text;
  flipped[seed_at + 8] = '7';
  std::string msg = load_text(flipped);
  EXPECT_NE(msg.find("split file '" + dir / "edited.json" + "' is corrupt"), std::string::npos)
      << msg;
  msg = load_text(text.substr(0, text.size() / 2));
  EXPECT_NE(msg.find("cut short or corrupt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("edited.json"), std::string::npos) << msg;
  // Re-indented: the content is the same, and so is its checksum.
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(load_text(j.dump(4)), "");
  // Written before the checksum: loads (with a warning).
  j.erase("crc32");
  EXPECT_EQ(load_text(j.dump(1)), "");

  {
    forensight::testing::ScopedWriteFault full("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", 100);
    msg = error_of([&] { save_split(make_split(d, parse_split_spec("5/5/5"), 4), d, file); });
  }
  EXPECT_NE(msg.find("cannot write '" + file + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No space left on device"), std::string::npos) << msg;
  EXPECT_EQ(load_split(file, d).indices, s.indices) << "the previous split is intact";
}

TEST(SplitTest, SavedPathsAreRelativeSoTheDataMayMove) {
  test_files::ScratchDir dir("split-move");
  Dataset d = make_dataset(10, 0.5);
  Split s = make_split(d, parse_split_spec("0.5/0.5"), 1);
  save_split(s, d, dir / "split.json");
  Dataset moved = d;
  moved.root = "/elsewhere/set";
  for (auto& sample : moved.samples) sample.path.replace(0, 9, "/elsewhere/set");
  EXPECT_EQ(load_split(dir / "split.json", moved).indices, s.indices);
}

}  // namespace
}  // namespace forensight::data
