#include "forensight/models/torch_archive_check.h"

#include <fmt/format.h>

#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/pickle_lengths.h"

namespace forensight::models {

void check_torch_archive(caffe2::serialize::PyTorchStreamReader& reader, uint64_t archive_bytes,
                         const std::string& what) {
  const std::vector<std::string> records = reader.getAllRecords();
  for (const std::string& name : records) {
    const uint64_t declared = reader.getRecordSize(name);
    FS_CHECK(declared <= archive_bytes,
             "{}: record {} declares {} bytes, more than the whole file's {} (PyTorch stores its "
             "records uncompressed: a damaged or crafted file)",
             what, name, declared, archive_bytes);
  }
  for (const std::string& name : records) {
    // data.pkl, constants.pkl, and the code's .debug_pkl source maps: LibTorch unpickles them all.
    if (!name.ends_with(".pkl") && !name.ends_with(".debug_pkl")) continue;
    const auto [data, size] = reader.getRecord(name);
    check_pickle_lengths({static_cast<const uint8_t*>(data.get()), size},
                         fmt::format("{} (record {})", what, name));
  }
}

}  // namespace forensight::models
