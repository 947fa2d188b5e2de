// skipped.csv: one header, RFC 4180 quoting of paths and reasons with commas or quotes, and rows
// appended across runs (a resumed run adds to the file its first run started).
#include "forensight/train/skipped_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../support/tiny_dataset.h"

namespace forensight::train {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SkippedLogTest, QuotesFieldsAndAppendsAcrossRuns) {
  const std::string path = testing::make_test_dir() + "/skipped.csv";
  const std::vector<data::SkippedFile> files = {{"/data/a,b.jpg", "not a JPEG, PNG or WebP image"},
                                                {"/data/say \"cheese\".png", "is empty (0 bytes)"}};
  {
    SkippedLog log(path);
    std::string lines;
    for (const auto& row : skipped_rows(files, "train", 0)) lines += skipped_csv_line(row);
    log.write(lines);
  }
  {
    SkippedLog resumed(path);
    resumed.write(skipped_csv_line({"/data/c.jpg", "cannot open '/data/c.jpg': gone", "val", 3}));
  }
  EXPECT_EQ(read(path),
            "path,split,epoch,reason\n"
            "\"/data/a,b.jpg\",train,0,\"not a JPEG, PNG or WebP image\"\n"
            "\"/data/say \"\"cheese\"\".png\",train,0,is empty (0 bytes)\n"
            "/data/c.jpg,val,3,cannot open '/data/c.jpg': gone\n");
}

}  // namespace
}  // namespace forensight::train
