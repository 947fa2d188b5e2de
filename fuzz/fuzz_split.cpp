// The split file a resumed run reads back (data/split.h load_split), checked against a small
// dataset: the JSON, its fields, the indices' range and the paths. The seed corpus holds files
// that save_split wrote for this same dataset, so mutations start from ones that load.
#include <cstdint>

#include "forensight/core/error.h"
#include "forensight/data/split.h"
#include "fuzz_input_file.h"
#include "fuzz_split_dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("split.json");
  static const forensight::data::Dataset dataset = forensight::fuzz::split_dataset();
  try {
    forensight::data::Split split = forensight::data::load_split(file.write(data, size), dataset);
    for (const auto& part : split.indices)
      for (int64_t i : part)
        if (i < 0 || i >= static_cast<int64_t>(dataset.size())) std::abort();
  } catch (const forensight::Error&) {
  }
  return 0;
}
