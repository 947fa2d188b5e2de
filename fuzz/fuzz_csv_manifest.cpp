// The CSV manifest as `--data train.csv` reads it: parse_csv on the text, then load_dataset on the
// same bytes as a .csv file (the Kaggle layout's columns, labels and paths). Anything but a
// forensight::Error naming the problem is a finding.
#include <cstdint>
#include <string_view>

#include "forensight/core/error.h"
#include "forensight/data/csv_reader.h"
#include "forensight/data/dataset.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("manifest.csv");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    forensight::data::CsvTable table = forensight::data::parse_csv(text, "fuzz.csv");
    if (table.rows.size() != table.row_lines.size()) std::abort();
    for (size_t r = 0; r < table.rows.size(); ++r) (void)table.where(r);
    (void)table.column("label");
  } catch (const forensight::Error&) {
  }
  try {
    forensight::data::Dataset dataset = forensight::data::load_dataset(file.write(data, size));
    (void)dataset.size();
  } catch (const forensight::Error&) {
  }
  return 0;
}
