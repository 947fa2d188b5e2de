// Safetensors: round trip of every dtype and metadata, and a clear Error (naming the file and the
// problem) for truncated files, bad JSON, unknown dtypes and offsets outside the data.
#include "forensight/models/safetensors.h"
#include "python_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "forensight/core/error.h"

namespace forensight::models {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("forensight-safetensors-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { testing::remove_flat_dir(dir_); }

  // A file with the given JSON header and data bytes.
  fs::path write_raw(const std::string& header, const std::string& data, uint64_t length) {
    fs::path path = dir_ / "raw.safetensors";
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&length), 8);
    out << header << data;
    return path;
  }

  void expect_error(const fs::path& path, const std::string& fragment) {
    try {
      read_safetensors(path);
      FAIL() << "read_safetensors accepted a file that should fail with '" << fragment << "'";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      EXPECT_NE(message.find(fragment), std::string::npos) << message;
    }
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripKeepsEveryDtypeShapeValueAndMetadata) {
  std::map<std::string, torch::Tensor> tensors = {
      {"f32", torch::randn({2, 3})},
      {"f16", torch::randn({4}).to(torch::kHalf)},
      {"bf16", torch::randn({1, 2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({3}, torch::kDouble)},
      {"i64", torch::arange(5)},
      {"u8", torch::randint(0, 255, {7}, torch::kUInt8)},
      {"scalar", torch::tensor(3.5f).reshape({})},
      {"empty", torch::empty({0, 4})},
      {"strided", torch::randn({4, 3}).t()},  // not contiguous
  };
  const fs::path path = dir_ / "round.safetensors";
  write_safetensors(path, tensors, {{"epoch", "3"}});
  SafetensorsFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("epoch"), "3");
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor& read = file.tensors.at(name);
    EXPECT_EQ(read.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(read, tensor)) << name;
  }
}

TEST_F(SafetensorsTest, TruncatedFileIsAnError) {
  const fs::path path = dir_ / "short.safetensors";
  std::ofstream(path) << "abc";
  expect_error(path, "shorter than the 8-byte header length");
  expect_error(write_raw("{}", "", /*length=*/1000), "truncated");
}

TEST_F(SafetensorsTest, BadJsonIsAnError) {
  const std::string header = "{\"a\": [";
  expect_error(write_raw(header, "", header.size()), "not valid JSON");
}

TEST_F(SafetensorsTest, UnknownDtypeIsAnErrorListingValidOnes) {
  const std::string header = R"({"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}})";
  expect_error(write_raw(header, "abcd", header.size()), "unsupported dtype 'F7'; supported: F64");
}

TEST_F(SafetensorsTest, OffsetsOutsideTheDataAreAnError) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_error(write_raw(header, "abcd", header.size()), "fall outside the 4 data bytes");
}

TEST_F(SafetensorsTest, OffsetsNotMatchingTheShapeAreAnError) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})";
  expect_error(write_raw(header, "abcdefgh", header.size()), "needs 8 bytes, its offsets span 4");
}

TEST_F(SafetensorsTest, MissingFileIsAnError) {
  EXPECT_THROW(read_safetensors(dir_ / "absent.safetensors"), Error);
}

}  // namespace
}  // namespace forensight::models
