// The built-in dataset generator on a tiny configuration: balanced, readable, Kaggle-style CSV,
// deterministic for a seed, fakes that differ from reals, and a clear refusal without photographs.
#include "forensight/data/synth.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>

#include "forensight/core/error.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/jpeg_encoder.h"
#include "test_support.h"

namespace forensight::data {
namespace {

using testing::gradient_image;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

class SynthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Stand-in photographs so the test needs no package and decodes little.
    for (int i = 0; i < 3; ++i)
      write_bytes(photos_.file(fmt::format("nature/p{}.jpg", i)),
                  encode_jpeg(gradient_image(200 + 40 * i, 150, i)));
    write_bytes(photos_.file("artwork.png"), {1, 2, 3});  // not a photograph: ignored
    options_.count = 10;
    options_.size_px = 64;
    options_.seed = 7;
    options_.photos_dir = photos_.path().string();
    options_.fit_steps = 4;
    options_.fit_batch = 2;
    options_.fit_crop_px = 32;
  }
  TempDir photos_;
  TempDir out_;
  SynthOptions options_;
};

TEST_F(SynthTest, WritesABalancedReadableSetWithKaggleCsv) {
  options_.out_dir = out_.file("set");
  SynthStats stats = synthesize_dataset(options_);
  EXPECT_EQ(stats.real, 5);
  EXPECT_EQ(stats.fake, 5);
  std::ifstream csv(stats.csv_path);
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, ",file_name,label");
  int rows = 0, labels[2] = {0, 0};
  while (std::getline(csv, line)) {
    int index = std::stoi(line.substr(0, line.find(',')));
    EXPECT_EQ(index, rows);
    std::string file = line.substr(line.find(',') + 1, line.rfind(',') - line.find(',') - 1);
    int label = std::stoi(line.substr(line.rfind(',') + 1));
    ASSERT_TRUE(label == 0 || label == 1) << line;
    ++labels[label];
    EXPECT_EQ(file.rfind(label == 0 ? "0_real/" : "1_fake/", 0), 0u) << line;
    Image image = decode_image_file(options_.out_dir + "/" + file);
    EXPECT_EQ(image.width, 64);
    EXPECT_EQ(image.height, 64);
    ++rows;
  }
  EXPECT_EQ(rows, 10);
  EXPECT_EQ(labels[0], 5);
  EXPECT_EQ(labels[1], 5);
  EXPECT_GT(stats.fit_loss, 0.0);
}

TEST_F(SynthTest, SameSeedSameBytesOtherSeedOtherBytes) {
  options_.out_dir = out_.file("a");
  synthesize_dataset(options_);
  options_.out_dir = out_.file("b");
  synthesize_dataset(options_);
  options_.seed = 8;
  options_.out_dir = out_.file("c");
  synthesize_dataset(options_);
  for (const char* file : {"0_real/real_00003.jpg", "1_fake/fake_00003.jpg", "train.csv"})
    EXPECT_EQ(read_bytes(out_.file(std::string("a/") + file)),
              read_bytes(out_.file(std::string("b/") + file)))
        << file;
  EXPECT_NE(read_bytes(out_.file("a/1_fake/fake_00003.jpg")),
            read_bytes(out_.file("c/1_fake/fake_00003.jpg")));
}

TEST_F(SynthTest, OddSizesWork) {
  options_.out_dir = out_.file("odd");
  options_.size_px = 37;
  options_.count = 2;
  synthesize_dataset(options_);
  Image fake = decode_image_file(out_.file("odd/1_fake/fake_00000.jpg"));
  EXPECT_EQ(fake.width, 37);
  EXPECT_EQ(fake.height, 37);
}

TEST_F(SynthTest, RefusesWithoutPhotographsNamingThePackage) {
  TempDir empty;
  options_.photos_dir = empty.path().string();
  options_.out_dir = out_.file("none");
  try {
    synthesize_dataset(options_);
    FAIL() << "synth ran without photographs";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mate-backgrounds"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace forensight::data
