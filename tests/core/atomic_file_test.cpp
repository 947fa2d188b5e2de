// core/atomic_file: the destination holds the old bytes or the new ones, never a mix, and no
// temporary file is left behind whether the write is committed or abandoned.
#include "forensight/core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "forensight/core/error.h"

namespace forensight {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("forensight_atomic_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
  }
  void TearDown() override { std::filesystem::remove_all(folder_); }

  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }
  size_t file_count() const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(folder_),
                                             std::filesystem::directory_iterator()));
  }
  std::filesystem::path folder_;
};

TEST_F(AtomicFileTest, WritesNewFileWithExactBytes) {
  std::string bytes("binary\0data\nwith zero", 21);
  write_file_atomic(folder_ / "out.bin", bytes);
  EXPECT_EQ(read(folder_ / "out.bin"), bytes);
  EXPECT_EQ(file_count(), 1u);  // no temporary file left
}

TEST_F(AtomicFileTest, ReplacesExistingFile) {
  write_file_atomic(folder_ / "report.json", "old, and longer than the new one");
  write_file_atomic(folder_ / "report.json", "new");
  EXPECT_EQ(read(folder_ / "report.json"), "new");
  EXPECT_EQ(file_count(), 1u);
}

TEST_F(AtomicFileTest, UncommittedWriteLeavesDestinationUntouched) {
  write_file_atomic(folder_ / "checkpoint.pt", "good");
  {
    AtomicFile file(folder_ / "checkpoint.pt");
    std::ofstream(file.temp_path()) << "half-written";
    EXPECT_TRUE(std::filesystem::exists(file.temp_path()));
    EXPECT_EQ(file.temp_path().parent_path(), folder_);  // same file system, so rename is atomic
  }  // destroyed without commit(), as when an exception unwinds
  EXPECT_EQ(read(folder_ / "checkpoint.pt"), "good");
  EXPECT_EQ(file_count(), 1u);
}

TEST_F(AtomicFileTest, CommitOfStreamWrittenTempFile) {
  AtomicFile file(folder_ / "weights.bin");
  std::ofstream(file.temp_path(), std::ios::binary) << "weights";
  file.commit();
  EXPECT_EQ(read(folder_ / "weights.bin"), "weights");
  EXPECT_FALSE(std::filesystem::exists(file.temp_path()));
  EXPECT_THROW(file.commit(), Error);  // twice is a bug, said plainly
}

TEST_F(AtomicFileTest, MissingFolderIsAnErrorNamingIt) {
  try {
    write_file_atomic(folder_ / "no_such_dir" / "x.json", "{}");
    FAIL() << "write into a missing folder succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace forensight
