// The Kaggle submission: the test manifest's ids in order, paths beside the CSV, quoting, and
// `predict --submission` end to end with an unreadable image labelled by the policy.
#include "forensight/eval/submission.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/build_paths.h"
#include "../support/error_of.h"
#include "../support/tiny_dataset.h"
#include "forensight/data/png_encoder.h"
#include "forensight/models/registry.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/train_option_table.h"

namespace forensight::eval {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SubmissionTest, ManifestKeepsIdsInOrderAndResolvesThemBesideTheCsv) {
  const std::string dir = testing::make_test_dir();
  std::ofstream(dir + "/test.csv") << "id\ntest_data_v2/b.jpg\ntest_data_v2/a.jpg\n/abs/c.png\n";
  const SubmissionManifest m = read_submission_manifest(dir + "/test.csv");
  ASSERT_EQ(m.ids.size(), 3u);
  EXPECT_EQ(m.ids[0], "test_data_v2/b.jpg");
  EXPECT_EQ(m.ids[1], "test_data_v2/a.jpg");
  EXPECT_EQ(m.paths[0], dir + "/test_data_v2/b.jpg");
  EXPECT_EQ(m.paths[2], "/abs/c.png");
}

TEST(SubmissionTest, ManifestWithoutIdColumnIsRefusedNamingTheHeader) {
  const std::string dir = testing::make_test_dir();
  std::ofstream(dir + "/test.csv") << "file_name,label\na.jpg,0\n";
  const std::string message =
      testing::error_of([&] { read_submission_manifest(dir + "/test.csv"); });
  EXPECT_NE(message.find("id"), std::string::npos) << message;
  EXPECT_NE(message.find("file_name"), std::string::npos) << message;
}

TEST(SubmissionTest, FormatQuotesIdsThatNeedIt) {
  EXPECT_EQ(format_submission({"a.jpg", "b,\"c\".jpg"}, {1, 0}),
            "id,label\na.jpg,1\n\"b,\"\"c\"\".jpg\",0\n");
  EXPECT_THROW(format_submission({"a.jpg"}, {2}), Error);
  EXPECT_THROW(parse_unreadable_policy("skip"), Error);
}

TEST(SubmissionIntegration, PredictWritesEveryIdInOrderAndLabelsUnreadableImagesByPolicy) {
  const std::string dir = testing::make_test_dir();
  fs::create_directories(dir + "/test_data_v2");
  data::Image image{.width = 32, .height = 32, .pixels = std::vector<uint8_t>(32 * 32 * 3)};
  for (const char* name : {"b.png", "a.png"}) {
    for (size_t i = 0; i < image.pixels.size(); ++i)
      image.pixels[i] = static_cast<uint8_t>(i * 7 + name[0]);
    const std::vector<uint8_t> png = data::encode_png(image);
    std::ofstream(dir + "/test_data_v2/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  }
  std::ofstream(dir + "/test_data_v2/broken.jpg") << "not an image";
  std::ofstream(dir + "/test.csv")
      << "id\ntest_data_v2/b.png\ntest_data_v2/broken.jpg\ntest_data_v2/a.png\n";

  train::TrainOptions config;
  config.image_size_px = 32;
  auto model = models::create_model(train::model_options(config));
  train::Checkpoint checkpoint;
  checkpoint.config_json = train::train_options_to_json(config).dump();
  train::save_checkpoint(dir + "/model.pt", *model, nullptr, checkpoint);

  std::string output;
  const std::string predict = std::string(forensight::testing::forensight_binary()) +
                              " predict --checkpoint " + dir + "/model.pt " + dir +
                              "/test.csv --submission " + dir + "/sub.csv";
  ASSERT_EQ(testing::run_command(predict + " --unreadable ai-generated", &output), 0) << output;
  const std::string csv = read_file(dir + "/sub.csv");
  EXPECT_EQ(csv.rfind("id,label\ntest_data_v2/b.png,", 0), 0u) << csv;
  EXPECT_NE(csv.find("\ntest_data_v2/broken.jpg,1\ntest_data_v2/a.png,"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
  EXPECT_NE(output.find("unreadable, labelled 1: test_data_v2/broken.jpg"), std::string::npos)
      << output;

  fs::remove(dir + "/sub.csv");
  EXPECT_NE(testing::run_command(predict + " --unreadable fail", &output), 0) << output;
  EXPECT_NE(output.find("broken.jpg"), std::string::npos) << output;
  EXPECT_FALSE(fs::exists(dir + "/sub.csv"));
}

}  // namespace
}  // namespace forensight::eval
