// The built-in dataset generator on a tiny configuration: balanced, readable, Kaggle-style CSV with
// a source column, every generator family and photograph set, crop modes, deterministic for a
// seed, fakes that differ from reals, and clear refusals (no photographs, unknown family).
#include "forensight/data/synth.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "../support/build_paths.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/error.h"
#include "forensight/data/csv_reader.h"
#include "forensight/data/dataset.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/inspect.h"
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
    options_.photos = {"nature=" + photos_.path().string()};
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
  EXPECT_EQ(line, ",file_name,label,source");
  int rows = 0, labels[2] = {0, 0};
  while (std::getline(csv, line)) {
    int index = std::stoi(line.substr(0, line.find(',')));
    EXPECT_EQ(index, rows);
    std::string rest = line.substr(line.find(',') + 1);  // file_name,label,source
    std::string file = rest.substr(0, rest.find(','));
    int label = std::stoi(rest.substr(rest.find(',') + 1));
    EXPECT_EQ(rest.substr(rest.rfind(',') + 1), label == 0 ? "nature" : "transposed-conv") << line;
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
  options_.photos = {empty.path().string()};
  options_.out_dir = out_.file("none");
  try {
    synthesize_dataset(options_);
    FAIL() << "synth ran without photographs";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mate-backgrounds"), std::string::npos) << e.what();
  }
}

// The rows of a synth CSV as (file_name, label, source), through the dataset reader users get.
std::vector<Sample> csv_samples(const std::string& csv_path) {
  return load_dataset(csv_path).samples;
}

TEST_F(SynthTest, EveryFamilyWritesDecodableImagesOfTheSizeNamedInTheSourceColumn) {
  TempDir more_photos;
  for (int i = 0; i < 2; ++i)
    write_bytes(more_photos.file(fmt::format("q{}.jpg", i)),
                encode_jpeg(gradient_image(180, 220, 10 + i)));
  options_.photos = {"nature=" + photos_.path().string(), "city=" + more_photos.path().string()};
  options_.families = all_generator_families();
  options_.count = 24;    // 12 fakes: two per family
  options_.size_px = 42;  // not a multiple of 4: the generators pad and cut back
  options_.out_dir = out_.file("all");
  SynthStats stats = synthesize_dataset(options_);

  ASSERT_EQ(stats.families.size(), 6u);
  std::map<std::string, int> per_source;
  for (const Sample& sample : csv_samples(stats.csv_path)) {
    Image image = decode_image_file(sample.path);
    EXPECT_EQ(image.width, 42) << sample.path;
    EXPECT_EQ(image.height, 42) << sample.path;
    ++per_source[sample.source];
    if (sample.label == kLabelReal) {
      EXPECT_TRUE(sample.source == "nature" || sample.source == "city") << sample.source;
    }
  }
  EXPECT_EQ(per_source["nature"], 6);
  EXPECT_EQ(per_source["city"], 6);
  for (GeneratorFamily family : all_generator_families())
    EXPECT_EQ(per_source[generator_family_name(family)], 2) << generator_family_name(family);
  for (const SynthFamilyStats& family : stats.families) {
    EXPECT_EQ(family.images, 2) << family.family;
    EXPECT_GT(family.fit_loss, 0.0) << family.family;
  }
}

TEST_F(SynthTest, EveryFamilyIsDeterministicForASeed) {
  options_.families = all_generator_families();
  options_.count = 12;
  options_.out_dir = out_.file("a");
  synthesize_dataset(options_);
  options_.out_dir = out_.file("b");
  synthesize_dataset(options_);
  for (int i = 0; i < 6; ++i) {  // fake i comes from family i
    const std::string file = fmt::format("1_fake/fake_{:05d}.jpg", i);
    EXPECT_EQ(read_bytes(out_.file("a/" + file)), read_bytes(out_.file("b/" + file)))
        << generator_family_name(all_generator_families()[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(read_bytes(out_.file("a/train.csv")), read_bytes(out_.file("b/train.csv")));
}

TEST(GeneratorFamilyTest, EveryFamilyLearnsToReconstructAndKeepsTheShape) {
  // A smooth batch each family can learn quickly: fitting lowers the loss, and the re-synthesis of
  // one image has its shape and range and differs between families.
  torch::Generator data_rng = at::detail::createCPUGenerator(3);
  torch::Tensor batch =
      torch::nn::functional::interpolate(torch::rand({4, 3, 4, 4}, data_rng) * 2 - 1,
                                         torch::nn::functional::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{16, 16})
                                             .mode(torch::kBilinear)
                                             .align_corners(false));  // (4, 3, 16, 16) in [-1, 1]
  std::vector<torch::Tensor> outputs;
  for (GeneratorFamily family : all_generator_families()) {
    const std::string name = generator_family_name(family);
    torch::Generator rng = at::detail::createCPUGenerator(5);
    FamilyGenerator generator(family, rng);
    double first = generator.fit_step(batch, rng), last = first;
    for (int step = 0; step < 40; ++step) last = generator.fit_step(batch, rng);
    EXPECT_LT(last, first * 0.8) << name << ": loss " << first << " -> " << last;
    torch::Tensor y = generator.synthesize(batch.narrow(0, 0, 1), rng);  // (1, 3, 16, 16)
    EXPECT_EQ(y.sizes(), batch.narrow(0, 0, 1).sizes()) << name;
    EXPECT_LE(y.abs().max().item<float>(), 1.0f) << name;
    for (size_t other = 0; other < outputs.size(); ++other)
      EXPECT_GT((y - outputs[other]).abs().mean().item<float>(), 1e-4)
          << name << " and " << generator_family_name(all_generator_families()[other]);
    outputs.push_back(y);
  }
}

TEST_F(SynthTest, InspectNamesEveryFamilyAndPhotographSet) {
  options_.families = all_generator_families();
  options_.count = 12;
  options_.out_dir = out_.file("inspect");
  SynthStats stats = synthesize_dataset(options_);
  InspectReport report = inspect_dataset(load_dataset(stats.csv_path), {/*threads=*/2});
  std::string table = report.to_table();
  EXPECT_EQ(report.per_source["nature"][kLabelReal], 6);
  for (GeneratorFamily family : all_generator_families()) {
    EXPECT_EQ(report.per_source[generator_family_name(family)][kLabelFake], 1)
        << generator_family_name(family);
    EXPECT_NE(table.find(generator_family_name(family)), std::string::npos) << table;
  }
}

// Mean |difference| of horizontally adjacent pixels: high for the 1-pixel stripes seen at native
// resolution, low once the photograph was reduced and the stripes averaged out.
double neighbour_difference(const Image& image) {
  double sum = 0.0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x + 1 < image.width; ++x)
      sum += std::abs(image.row(y)[x * 3] - image.row(y)[(x + 1) * 3]);
  return sum / (image.height * (image.width - 1));
}

TEST_F(SynthTest, NativeCropsKeepThePhotographsOwnPixelsResizeCropsReduceIt) {
  // A photograph of 1-pixel-wide stripes, large enough (short side 2112 >= 2 x 1024) that resize
  // mode decodes it at half size.
  TempDir striped;
  Image stripes;
  stripes.width = stripes.height = 2112;
  stripes.pixels.resize(static_cast<size_t>(2112) * 2112 * 3);
  for (int y = 0; y < 2112; ++y)
    for (int x = 0; x < 2112; ++x)
      for (int c = 0; c < 3; ++c) stripes.row(y)[x * 3 + c] = x % 2 ? 230 : 25;
  write_bytes(striped.file("stripes.jpg"), encode_jpeg(stripes));
  options_.photos = {striped.path().string()};
  options_.count = 2;
  options_.fit_steps = 1;
  options_.out_dir = out_.file("native");
  options_.crop_mode = SynthCropMode::kNative;
  synthesize_dataset(options_);
  options_.out_dir = out_.file("resize");
  options_.crop_mode = SynthCropMode::kResize;
  synthesize_dataset(options_);
  double native =
      neighbour_difference(decode_image_file(out_.file("native/0_real/real_00000.jpg")));
  double reduced =
      neighbour_difference(decode_image_file(out_.file("resize/0_real/real_00000.jpg")));
  EXPECT_GT(native, 60.0);
  EXPECT_LT(reduced, native / 2) << "native " << native;
}

TEST_F(SynthTest, RefusesToHoldMorePhotographsThanTheMemoryLimit) {
  options_.out_dir = out_.file("big");
  options_.crop_mode = SynthCropMode::kNative;
  options_.photo_memory_limit_bytes = 100'000;  // the first stand-in photograph is 90,000 bytes
  try {
    synthesize_dataset(options_);
    FAIL() << "synth went over the photograph memory limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--crop-mode resize"), std::string::npos) << e.what();
  }
}

TEST(GeneratorFamilyTest, UnknownFamilyIsRefusedWithTheValidChoices) {
  try {
    parse_generator_families("transposed-conv,stylegan9");
    FAIL() << "an unknown family was accepted";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("stylegan9"), std::string::npos) << message;
    for (GeneratorFamily family : all_generator_families())
      EXPECT_NE(message.find(generator_family_name(family)), std::string::npos) << message;
  }
  EXPECT_THROW(parse_generator_families(" , "), Error);
}

TEST(GeneratorFamilyTest, ListsAndAllParseInOrderWithoutDuplicates) {
  EXPECT_EQ(parse_generator_families("all"), all_generator_families());
  EXPECT_GE(all_generator_families().size(), 5u);
  EXPECT_EQ(
      parse_generator_families(" diffusion, pixel-shuffle,diffusion "),
      (std::vector<GeneratorFamily>{GeneratorFamily::kDiffusion, GeneratorFamily::kPixelShuffle}));
}

TEST(PhotoSetsTest, FoldersAreNamedAndNamesMustDiffer) {
  TempDir dir;
  write_bytes(dir.file("beach/a.jpg"), encode_jpeg(gradient_image(50, 40, 1)));
  write_bytes(dir.file("beach/b.JPEG"), encode_jpeg(gradient_image(50, 40, 2)));
  write_bytes(dir.file("beach/c.png"), {1, 2, 3});
  std::vector<PhotoSet> sets =
      resolve_photo_sets({dir.file("beach") + "/", "coast=" + dir.file("beach")});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].name, "beach");
  EXPECT_EQ(sets[0].files.size(), 2u);
  EXPECT_EQ(sets[1].name, "coast");
  try {
    resolve_photo_sets({dir.file("beach"), "beach=" + dir.file("beach")});
    FAIL() << "two sets named 'beach' were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'beach' is named twice"), std::string::npos) << e.what();
  }
  try {
    resolve_photo_sets({"gnome-wallpapers"});
    FAIL() << "an unknown set was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lomiri-wallpapers-16.04"), std::string::npos) << e.what();
  }
}

TEST(SynthCliTest, UnknownFamilyIsRefusedWithTheValidChoices) {
  std::string output;
  int status = forensight::testing::run_command(
      std::string(forensight::testing::forensight_binary()) + " data synth --out " +
          forensight::testing::make_test_dir() +
          "/set --count 2 --families transposed-conv,stylegan9",
      &output);
  EXPECT_NE(status, 0) << output;
  EXPECT_NE(output.find("stylegan9"), std::string::npos) << output;
  EXPECT_NE(output.find("pixel-shuffle"), std::string::npos) << output;
}

}  // namespace
}  // namespace forensight::data
