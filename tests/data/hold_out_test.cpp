// data/hold_out: a held-out source never reaches train or validation and is all in test, beside
// the real test images it is judged against; unknown sources and impossible hold-outs are refused.
#include "forensight/data/hold_out.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../support/error_of.h"
#include "forensight/core/error.h"

namespace forensight::data {
namespace {

// 20 real photographs (source "photos"), 10 fakes each of "tconv" and "pixel-shuffle".
Dataset three_sources() {
  Dataset d;
  d.root = "families.csv";
  for (int i = 0; i < 20; ++i) d.samples.push_back({"real_" + std::to_string(i), 0, "", "photos"});
  for (int i = 0; i < 10; ++i) d.samples.push_back({"tconv_" + std::to_string(i), 1, "", "tconv"});
  for (int i = 0; i < 10; ++i)
    d.samples.push_back({"ps_" + std::to_string(i), 1, "", "pixel-shuffle"});
  return d;
}

int count_source(const Dataset& d, const std::vector<int64_t>& part, const std::string& source) {
  return static_cast<int>(std::count_if(part.begin(), part.end(),
                                        [&](int64_t i) { return d.samples[i].source == source; }));
}

using forensight::testing::error_of;

TEST(HoldOutTest, ListsSourcesAndGeneratorFamilies) {
  const Dataset d = three_sources();
  EXPECT_EQ(dataset_sources(d), (std::vector<std::string>{"photos", "pixel-shuffle", "tconv"}));
  EXPECT_EQ(generator_sources(d), (std::vector<std::string>{"pixel-shuffle", "tconv"}));
}

TEST(HoldOutTest, HeldOutSourceIsOnlyInTestWithRealTestImages) {
  const Dataset d = three_sources();
  const Split split = make_hold_out_split(d, parse_split_spec("0.6/0.2/0.2"), 7, "tconv");
  EXPECT_EQ(count_source(d, split.train(), "tconv"), 0);
  EXPECT_EQ(count_source(d, split.val(), "tconv"), 0);
  EXPECT_EQ(count_source(d, split.test(), "tconv"), 10);  // every one of them
  EXPECT_GT(count_source(d, split.train(), "pixel-shuffle"), 0);
  EXPECT_GT(count_source(d, split.test(), "photos"), 0);
  EXPECT_GT(count_source(d, split.test(), "pixel-shuffle"), 0);  // the held-in family's own test
  // Every sample at most once, and the held-in part is the split of the held-in samples alone:
  // 30 of them at 0.6/0.2/0.2.
  std::vector<int64_t> all;
  for (const auto& part : split.indices) all.insert(all.end(), part.begin(), part.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(split.train().size(), 18u);
  EXPECT_EQ(split.val().size(), 6u);
  EXPECT_EQ(split.test().size(), 16u);
  EXPECT_NE(split.spec.find("holding out tconv"), std::string::npos) << split.spec;
  // Deterministic in the seed.
  EXPECT_EQ(make_hold_out_split(d, parse_split_spec("0.6/0.2/0.2"), 7, "tconv").indices,
            split.indices);
}

TEST(HoldOutTest, UnknownSourceIsRefusedNamingTheSourcesFound) {
  const Dataset d = three_sources();
  const std::string e =
      error_of([&] { make_hold_out_split(d, parse_split_spec("0.8/0.1/0.1"), 0, "diffusion"); });
  EXPECT_NE(e.find("'diffusion'"), std::string::npos) << e;
  EXPECT_NE(e.find("photos, pixel-shuffle, tconv"), std::string::npos) << e;

  Dataset no_sources;
  no_sources.root = "plain";
  no_sources.samples = {{"a", 0, "", ""}, {"b", 1, "", ""}};
  EXPECT_NE(error_of([&] {
              make_hold_out_split(no_sources, parse_split_spec("0.5/0/0.5"), 0, "tconv");
            }).find("names none"),
            std::string::npos);
}

TEST(HoldOutTest, HoldingOutTheOnlyGeneratorOrLeavingNoTestRealIsRefused) {
  Dataset d = three_sources();
  d.samples.erase(d.samples.begin() + 30, d.samples.end());  // tconv is the only family left
  const std::string only =
      error_of([&] { make_hold_out_split(d, parse_split_spec("0.8/0.1/0.1"), 0, "tconv"); });
  EXPECT_NE(only.find("no AI-generated image to train on"), std::string::npos) << only;

  const std::string no_test = error_of(
      [&] { make_hold_out_split(three_sources(), parse_split_spec("0.8/0.2"), 0, "tconv"); });
  EXPECT_NE(no_test.find("no real image in the test split"), std::string::npos) << no_test;
}

}  // namespace
}  // namespace forensight::data
