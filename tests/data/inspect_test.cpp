// Dataset inspection on a hand-made dataset: counts per class, source and format, size statistics,
// corrupt files with reasons, duplicate groups, and the JSON form.
#include "forensight/data/inspect.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "forensight/data/jpeg_encoder.h"
#include "forensight/data/png_encoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::gradient_image;
using testing::TempDir;
using testing::write_bytes;

TEST(InspectTest, CountsSizesCorruptFilesAndDuplicates) {
  TempDir dir;
  Dataset dataset;
  dataset.root = dir.path().string();
  auto add = [&](const std::string& name, const std::vector<uint8_t>& bytes, int label) {
    write_bytes(dir.file(name), bytes);
    dataset.samples.push_back({dir.file(name), label, "", ""});
  };
  add("r0.jpg", encode_jpeg(gradient_image(100, 50, 1)), kLabelReal);
  add("r1.png", encode_png(gradient_image(80, 60, 2)), kLabelReal);
  add("r2.jpg", encode_jpeg(gradient_image(120, 70, 3)), kLabelReal);
  add("f0.jpg", encode_jpeg(gradient_image(100, 50, 1)), kLabelFake);  // same bytes as r0
  std::vector<uint8_t> cut = encode_jpeg(gradient_image(64, 64, 4));
  cut.resize(cut.size() / 2);
  add("f1.jpg", cut, kLabelFake);
  add("f2.jpg", {}, kLabelFake);
  add("f3.png", encode_png(gradient_image(80, 60, 2)), kLabelFake);  // same bytes as r1

  InspectReport report = inspect_dataset(dataset, {/*threads=*/3});
  EXPECT_EQ(report.images, 7);
  EXPECT_EQ(report.readable, 5);
  EXPECT_EQ(report.per_label[kLabelReal], 3);
  EXPECT_EQ(report.per_label[kLabelFake], 4);
  EXPECT_EQ(report.formats["jpeg"], 3);
  EXPECT_EQ(report.formats["png"], 2);
  EXPECT_EQ(report.width.min_px, 80);
  EXPECT_EQ(report.width.median_px, 100);
  EXPECT_EQ(report.width.max_px, 120);
  EXPECT_EQ(report.height.min_px, 50);
  EXPECT_EQ(report.height.max_px, 70);
  ASSERT_EQ(report.corrupt.size(), 2u);
  EXPECT_EQ(report.corrupt[0].path, dir.file("f1.jpg"));
  EXPECT_NE(report.corrupt[0].reason.find("truncated"), std::string::npos)
      << report.corrupt[0].reason;
  EXPECT_NE(report.corrupt[1].reason.find("empty"), std::string::npos) << report.corrupt[1].reason;
  ASSERT_EQ(report.duplicates.size(), 2u);
  EXPECT_EQ(report.duplicates[0],
            (std::vector<std::string>{dir.file("r0.jpg"), dir.file("f0.jpg")}));
  EXPECT_EQ(report.duplicates[1],
            (std::vector<std::string>{dir.file("r1.png"), dir.file("f3.png")}));

  nlohmann::json j = report.to_json();
  EXPECT_EQ(j["images"], 7);
  EXPECT_EQ(j["per_label"]["1"], 4);
  EXPECT_EQ(j["formats"]["png"], 2);
  EXPECT_EQ(j["width_px"]["median"], 100);
  EXPECT_EQ(j["corrupt"].size(), 2u);
  EXPECT_EQ(j["duplicates"][1][1], dir.file("f3.png"));
  std::string table = report.to_table();
  EXPECT_NE(table.find("1 (AI-generated)"), std::string::npos) << table;
  EXPECT_NE(table.find("exact duplicates: 2 groups, 4 files"), std::string::npos) << table;
}

TEST(InspectTest, ResultDoesNotDependOnThreadCount) {
  TempDir dir;
  Dataset dataset;
  for (int i = 0; i < 12; ++i) {
    std::string path = dir.file(fmt::format("{}.jpg", i));
    write_bytes(path, encode_jpeg(gradient_image(30 + i, 40, i % 4)));
    dataset.samples.push_back({path, i % 2, "", ""});
  }
  EXPECT_EQ(inspect_dataset(dataset, {1}).to_json(), inspect_dataset(dataset, {4}).to_json());
}

TEST(InspectTest, CountsImagesPerSourceAndClass) {
  TempDir dir;
  Dataset dataset;
  auto add = [&](const std::string& name, int label, const std::string& source) {
    write_bytes(dir.file(name), encode_jpeg(gradient_image(40, 30, 1)));
    dataset.samples.push_back({dir.file(name), label, "", source});
  };
  add("r0.jpg", kLabelReal, "mate-backgrounds");
  add("r1.jpg", kLabelReal, "lomiri-wallpapers-16.04");
  add("r2.jpg", kLabelReal, "mate-backgrounds");
  add("f0.jpg", kLabelFake, "pixel-shuffle");
  add("f1.jpg", kLabelFake, "diffusion");
  add("f2.jpg", kLabelFake, "diffusion");
  add("n0.jpg", kLabelFake, "");  // no source: counted per class only

  InspectReport report = inspect_dataset(dataset, {/*threads=*/2});
  ASSERT_EQ(report.per_source.size(), 4u);
  EXPECT_EQ(report.per_source["mate-backgrounds"][kLabelReal], 2);
  EXPECT_EQ(report.per_source["lomiri-wallpapers-16.04"][kLabelReal], 1);
  EXPECT_EQ(report.per_source["diffusion"][kLabelFake], 2);
  EXPECT_EQ(report.per_source["pixel-shuffle"].count(kLabelReal), 0u);
  nlohmann::json j = report.to_json();
  EXPECT_EQ(j["per_source"]["diffusion"]["1"], 2);
  EXPECT_EQ(j["per_source"]["mate-backgrounds"]["0"], 2);
  std::string table = report.to_table();
  EXPECT_NE(table.find("lomiri-wallpapers-16.04       1       0       0"), std::string::npos)
      << table;
  EXPECT_NE(table.find("diffusion"), std::string::npos) << table;
}

TEST(InspectTest, NoSourceSectionWithoutSources) {
  TempDir dir;
  Dataset dataset;
  write_bytes(dir.file("a.jpg"), encode_jpeg(gradient_image(40, 30, 1)));
  dataset.samples.push_back({dir.file("a.jpg"), kLabelReal, "", ""});
  InspectReport report = inspect_dataset(dataset, {/*threads=*/1});
  EXPECT_TRUE(report.per_source.empty());
  EXPECT_EQ(report.to_table().find("source"), std::string::npos) << report.to_table();
}

}  // namespace
}  // namespace forensight::data
