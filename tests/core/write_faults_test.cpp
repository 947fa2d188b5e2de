// core/fault_injection's write-path faults through core/atomic_file: a full disk (ENOSPC) is an
// error that names the file and leaves its previous version and no temporary file behind, for a
// plain file and for an evaluation report (report.json + report.md); and a commit that keeps the
// file it replaces.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/error_of.h"
#include "../support/scoped_write_fault.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/atomic_file.h"
#include "forensight/eval/report.h"

namespace forensight {
namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

size_t file_count(const std::filesystem::path& folder) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(folder),
                                           std::filesystem::directory_iterator()));
}

TEST(WriteFaultsTest, FullDiskNamesTheFileAndKeepsThePreviousVersion) {
  const std::filesystem::path dir = testing::make_test_dir();
  const std::filesystem::path path = dir / "config.json";
  write_file_atomic(path, "previous");
  {
    testing::ScopedWriteFault full("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", 10);
    const std::string error =
        testing::error_of([&] { write_file_atomic(path, std::string(100, 'x')); });
    EXPECT_NE(error.find("cannot write '" + path.string() + "'"), std::string::npos) << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
    EXPECT_NE(error.find("is unchanged"), std::string::npos) << error;
    // Everything later fails too, as on a disk that stays full.
    EXPECT_NE(testing::error_of([&] { write_file_atomic(dir / "other", "y"); }), "");
  }
  EXPECT_EQ(read(path), "previous");
  EXPECT_EQ(file_count(dir), 1u) << "a temporary file was left behind";
  write_file_atomic(path, "after");  // space again: writes work
  EXPECT_EQ(read(path), "after");
}

TEST(WriteFaultsTest, FullDiskWhileWritingAReportKeepsTheOldReport) {
  const std::filesystem::path dir = testing::make_test_dir();
  eval::EvaluationReport report;
  report.title = "old";
  const std::vector<double> scores = {0.2, 0.9};
  const std::vector<int> labels = {0, 1};
  report.metrics = eval::compute_metrics(scores, labels);
  eval::write_report(report, dir);
  const std::string old_json = read(dir / "report.json");
  const std::string old_markdown = read(dir / "report.md");
  report.title = "new";
  {
    testing::ScopedWriteFault full("FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES", 0);
    const std::string error = testing::error_of([&] { eval::write_report(report, dir); });
    EXPECT_NE(error.find((dir / "report.json").string()), std::string::npos) << error;
    EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
  }
  EXPECT_EQ(read(dir / "report.json"), old_json);
  EXPECT_EQ(read(dir / "report.md"), old_markdown);
  EXPECT_EQ(file_count(dir), 2u);
}

TEST(WriteFaultsTest, CommitKeepsTheReplacedFileAsPrevious) {
  const std::filesystem::path dir = testing::make_test_dir();
  for (const char* content : {"step 1", "step 2", "step 3"}) {
    AtomicFile file(dir / "last.pt");
    file.write(content, std::char_traits<char>::length(content));
    file.commit(dir / "previous.pt");
  }
  EXPECT_EQ(read(dir / "last.pt"), "step 3");
  EXPECT_EQ(read(dir / "previous.pt"), "step 2");
  EXPECT_EQ(file_count(dir), 2u);
}

}  // namespace
}  // namespace forensight
