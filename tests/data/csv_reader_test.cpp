// CSV reader edge cases: what real manifests carry (BOM, CRLF, quotes) and the errors users see.
#include "forensight/data/csv_reader.h"

#include <gtest/gtest.h>

#include <functional>

#include "../support/error_of.h"
#include "forensight/core/error.h"

namespace forensight::data {
namespace {

using forensight::testing::error_of;

TEST(CsvReaderTest, StripsBomAndHandlesCrlf) {
  auto t = parse_csv("\xEF\xBB\xBF,file_name,label\r\n0,a.jpg,1\r\n1,b.jpg,0\r\n", "m.csv");
  ASSERT_EQ(t.header.size(), 3u);
  EXPECT_EQ(t.header[0], "");
  EXPECT_EQ(t.header[1], "file_name");
  EXPECT_EQ(t.column("file_name"), 1);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "a.jpg");
  EXPECT_EQ(t.rows[1][2], "0");  // no stray '\r'
  EXPECT_EQ(t.row_lines[1], 3);
}

TEST(CsvReaderTest, QuotedFieldsKeepCommasNewlinesAndDoubledQuotes) {
  auto t =
      parse_csv("name,note\n\"a, b.jpg\",\"say \"\"hi\"\"\"\n\"multi\nline\",x\nlast,y\n", "q");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0], "a, b.jpg");
  EXPECT_EQ(t.rows[0][1], "say \"hi\"");
  EXPECT_EQ(t.rows[1][0], "multi\nline");
  EXPECT_EQ(t.row_lines[2], 5);  // line numbers count the newline inside the quoted field
}

TEST(CsvReaderTest, BlankLinesAndMissingFinalNewline) {
  auto t = parse_csv("a,b\n\n1,2\n\n3,4", "x");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[1][1], "4");
}

TEST(CsvReaderTest, ShortRowsArePaddedWithEmptyFields) {
  auto t = parse_csv("a,b,c\n1\n", "x");
  ASSERT_EQ(t.rows.size(), 1u);
  ASSERT_EQ(t.rows[0].size(), 3u);
  EXPECT_EQ(t.rows[0][2], "");
}

TEST(CsvReaderTest, ColumnLookupIsCaseInsensitive) {
  auto t = parse_csv(" File_Name , LABEL\nx,1\n", "x");
  EXPECT_EQ(t.column("file_name"), 0);
  EXPECT_EQ(t.column("label"), 1);
  EXPECT_EQ(t.column("group"), -1);
}

TEST(CsvReaderTest, MissingColumnErrorNamesItAndListsHeader) {
  auto t = parse_csv("path,klass\nx,1\n", "train.csv");
  std::string msg = error_of([&] { t.require_column("label"); });
  EXPECT_NE(msg.find("'label'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'path', 'klass'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.csv"), std::string::npos) << msg;
}

TEST(CsvReaderTest, UnterminatedQuoteIsAnErrorWithLine) {
  std::string msg = error_of([] { parse_csv("a,b\n1,2\n\"open,3\n", "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv:3"), std::string::npos) << msg;
}

TEST(CsvReaderTest, TooManyFieldsIsAnErrorWithLine) {
  std::string msg = error_of([] { parse_csv("a,b\n1,2\n1,2,3\n", "wide.csv"); });
  EXPECT_NE(msg.find("wide.csv:3"), std::string::npos) << msg;
}

}  // namespace
}  // namespace forensight::data
