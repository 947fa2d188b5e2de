// Dataset discovery: class folder layouts (any case, nested) and Kaggle-style CSV manifests.
#include "forensight/data/dataset.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "test_files.h"

namespace forensight::data {
namespace {
using test_files::ScratchDir;
using test_files::write_text;

std::string error_of(const std::string& path) {
  try {
    load_dataset(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DatasetTest, FolderClassNamesAreCaseInsensitiveAndSorted) {
  for (auto [real, fake] : std::vector<std::pair<std::string, std::string>>{
           {"0_real", "1_fake"}, {"REAL", "Fake"}, {"Human", "AI"}, {"nature", "ai"}}) {
    ScratchDir dir("folders");
    write_text(dir / (fake + "/b.jpg"), "x");
    write_text(dir / (real + "/z.png"), "x");
    write_text(dir / (real + "/a.jpg"), "x");
    write_text(dir / (real + "/.hidden.jpg"), "x");
    write_text(dir / (real + "/notes.txt"), "x");
    Dataset d = load_dataset(dir.path().string());
    ASSERT_EQ(d.size(), 3u) << real << "/" << fake;
    EXPECT_TRUE(d.labelled);
    for (size_t i = 1; i < d.size(); ++i) EXPECT_LT(d.samples[i - 1].path, d.samples[i].path);
    for (const auto& s : d.samples) {
      bool in_fake = s.path.find("/" + fake + "/") != std::string::npos;
      EXPECT_EQ(s.label, in_fake ? kLabelFake : kLabelReal) << s.path;
    }
  }
}

TEST(DatasetTest, NestedClassFoldersNameTheSourceAndRecurse) {
  ScratchDir dir("nested");
  write_text(dir / "progan/cat/0_real/a.jpg", "x");
  write_text(dir / "progan/cat/1_fake/deep/b.jpg", "x");
  write_text(dir / "stylegan/1_fake/c.jpg", "x");
  write_text(dir / "README", "x");  // outside any class folder: ignored
  Dataset d = load_dataset(dir.path().string());
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d.samples[0].label, kLabelReal);
  EXPECT_EQ(d.samples[0].source, "progan");
  EXPECT_EQ(d.samples[1].label, kLabelFake);
  EXPECT_EQ(d.samples[2].source, "stylegan");
}

TEST(DatasetTest, FolderWithoutClassFoldersIsAnErrorListingNames) {
  ScratchDir dir("noclass");
  write_text(dir / "images/a.jpg", "x");
  std::string msg = error_of(dir.path().string());
  EXPECT_NE(msg.find("0_real/1_fake"), std::string::npos) << msg;
}

TEST(DatasetTest, KaggleTrainCsvWithUnnamedIndexColumn) {
  ScratchDir dir("kaggle");
  write_text(dir / "train.csv",
             "\xEF\xBB\xBF,file_name,label\r\n0,train_data/a.jpg,1\r\n1,train_data/b.jpg,0\r\n");
  Dataset d = load_dataset(dir / "train.csv");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_TRUE(d.labelled);
  EXPECT_EQ(d.samples[0].path, (dir.path() / "train_data/a.jpg").string());
  EXPECT_EQ(d.samples[0].label, kLabelFake);
  EXPECT_EQ(d.samples[1].label, kLabelReal);
}

TEST(DatasetTest, IdOnlyCsvIsUnlabelled) {
  ScratchDir dir("kaggle-test");
  write_text(dir / "test.csv", "id\ntest_data_v2/x.jpg\ntest_data_v2/y.jpg\n");
  Dataset d = load_dataset(dir / "test.csv");
  EXPECT_FALSE(d.labelled);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.samples[1].label, kLabelUnknown);
  EXPECT_EQ(d.samples[1].path, (dir.path() / "test_data_v2/y.jpg").string());
}

TEST(DatasetTest, OptionalGroupAndSourceColumns) {
  ScratchDir dir("groups");
  write_text(dir / "m.csv",
             "file_name,label,group,source\n\"a,1.jpg\",0,g1,camera\nb.jpg,1,g1,sdxl\n");
  Dataset d = load_dataset(dir / "m.csv");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d.samples[0].path, (dir.path() / "a,1.jpg").string());
  EXPECT_EQ(d.samples[0].group, "g1");
  EXPECT_EQ(d.samples[1].source, "sdxl");
}

TEST(DatasetTest, MissingLabelColumnNamesIt) {
  ScratchDir dir("nolabel");
  write_text(dir / "m.csv", "file_name,klass\na.jpg,1\n");
  std::string msg = error_of(dir / "m.csv");
  EXPECT_NE(msg.find("'label'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'file_name', 'klass'"), std::string::npos) << msg;
}

TEST(DatasetTest, MissingPathColumnNamesIt) {
  ScratchDir dir("nopath");
  write_text(dir / "m.csv", "path,label\na.jpg,1\n");
  std::string msg = error_of(dir / "m.csv");
  EXPECT_NE(msg.find("'file_name'"), std::string::npos) << msg;
}

TEST(DatasetTest, BadLabelIsAnErrorWithFileAndLine) {
  ScratchDir dir("badlabel");
  write_text(dir / "m.csv", "file_name,label\na.jpg,1\nb.jpg,2\n");
  std::string msg = error_of(dir / "m.csv");
  EXPECT_NE(msg.find("m.csv:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'2'"), std::string::npos) << msg;
}

TEST(DatasetTest, MissingPathIsAnError) {
  std::string msg = error_of("/nonexistent/forensight/data");
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

}  // namespace
}  // namespace forensight::data
