// CSV parsing as a single pass over the bytes with a two-state machine (inside / outside quotes),
// so a 100k-row manifest parses in milliseconds and line numbers stay exact across quoted newlines.
#include "forensight/data/csv_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "forensight/core/error.h"

namespace forensight::data {
namespace {

std::string trim(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(s[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(s[end - 1]))) --end;
  return std::string(s.substr(begin, end - begin));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool all_blank(const std::vector<std::string>& record) {
  return std::all_of(record.begin(), record.end(), [](const std::string& f) { return f.empty(); });
}

}  // namespace

int CsvTable::column(std::string_view wanted) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (iequals(header[i], wanted)) return static_cast<int>(i);
  return -1;
}

int CsvTable::require_column(std::string_view wanted) const {
  int index = column(wanted);
  if (index < 0) {
    std::string found;
    for (const auto& h : header) found += (found.empty() ? "" : ", ") + fmt::format("'{}'", h);
    fail("{}: missing required column '{}'; the header has: {}", name, wanted, found);
  }
  return index;
}

std::string CsvTable::where(size_t row) const {
  return fmt::format("{}:{}", name, row < row_lines.size() ? row_lines[row] : 0);
}

CsvTable parse_csv(std::string_view text, const std::string& name) {
  CsvTable table;
  table.name = name;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false;
  bool field_was_quoted = false;
  int64_t line = 1;
  int64_t record_line = 1;
  int64_t quote_line = 0;

  auto end_field = [&] {
    // Quoted fields keep their blanks; unquoted ones are trimmed ("a, b" reads as "a","b").
    record.push_back(field_was_quoted ? field : trim(field));
    field.clear();
    field_was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    if (!all_blank(record)) {
      if (table.header.empty()) {
        table.header = std::move(record);
      } else {
        if (record.size() > table.header.size())
          fail("{}:{}: {} fields but the header has {} columns; quote fields that contain commas",
               name, record_line, record.size(), table.header.size());
        record.resize(table.header.size());  // short rows read as empty trailing fields
        table.rows.push_back(std::move(record));
        table.row_lines.push_back(record_line);
      }
    }
    record.clear();
  };

  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        // A quote opens a quoted field only at its start (after optional blanks); elsewhere it is
        // an ordinary character, as most CSV writers and readers treat it.
        if (trim(field).empty() && !field_was_quoted) {
          field.clear();
          in_quotes = true;
          field_was_quoted = true;
          quote_line = line;
        } else {
          field += c;
        }
        break;
      case ',':
        end_field();
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;  // CRLF: the \n ends the record
        [[fallthrough]];
      case '\n':
        end_record();
        ++line;
        record_line = line;
        break;
      default:
        if (field_was_quoted) {
          // Text after a closing quote ("ab"c): keep it rather than lose data silently.
          if (!std::isspace(static_cast<unsigned char>(c))) field += c;
        } else {
          field += c;
        }
    }
  }
  if (in_quotes) fail("{}:{}: quoted field is never closed (missing '\"')", name, quote_line);
  if (!field.empty() || field_was_quoted || !record.empty()) end_record();

  for (auto& h : table.header) h = trim(h);
  return table;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open CSV file '{}': check the path and permissions", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.empty()) fail("CSV file '{}' is empty: expected a header line and rows", path);
  return parse_csv(text, path);
}

}  // namespace forensight::data
