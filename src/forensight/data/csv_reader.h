// A small CSV reader for dataset manifests (RFC 4180 plus what real files carry: a UTF-8 byte order
// mark, CRLF line ends, quoted fields with commas, newlines and doubled quotes). Errors name the
// file and the line, since a manifest is user input.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace forensight::data {

struct CsvTable {
  std::string name;                            // file path (or a label) used in error messages
  std::vector<std::string> header;             // first record, fields trimmed of blanks
  std::vector<std::vector<std::string>> rows;  // records after the header, blank lines dropped
  std::vector<int64_t> row_lines;              // 1-based line where each row starts

  // Index of the column named `name` (case-insensitive, blanks trimmed), or -1.
  int column(std::string_view name) const;
  // Same, but throws Error naming the column and listing the header found.
  int require_column(std::string_view name) const;
  // "name:line" of row `row`, for error messages.
  std::string where(size_t row) const;
};

// Parses CSV text; `name` only labels errors. Throws Error for an unterminated quoted field or a
// row with more fields than the header.
CsvTable parse_csv(std::string_view text, const std::string& name);
// Reads and parses a file; throws Error naming the path when it cannot be read or is empty.
CsvTable read_csv(const std::string& path);

}  // namespace forensight::data
