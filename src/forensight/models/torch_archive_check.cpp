#include "forensight/models/torch_archive_check.h"

#include <c10/core/ScalarType.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "forensight/core/error.h"
#include "forensight/core/pickle_lengths.h"
#include "forensight/core/pickle_storages.h"
#include "forensight/core/zip_directory.h"

namespace forensight::models {
namespace {

// LibTorch's MemoryReadAdapter copies whatever range miniz asks for, and a cut-short archive's
// directory points past the end: this one gives back only the bytes that are there.
class BoundedReadAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedReadAdapter(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/ = "") const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  std::span<const uint8_t> bytes_;
};

// The element size of torch.<Type>Storage as LibTorch's unpickler reads it (the scalar type whose
// name is <Type>); 1 for a name it does not know, which it refuses anyway.
uint64_t element_bytes(const std::string& storage_type) {
  for (int i = 0; i < static_cast<int>(c10::ScalarType::NumOptions); ++i) {
    const auto type = static_cast<c10::ScalarType>(i);
    if (std::string(c10::toString(type)) + "Storage" != storage_type) continue;
    try {
      return std::max<uint64_t>(c10::elementSize(type), 1);
    } catch (const c10::Error&) {
      return 1;
    }
  }
  return 1;
}

void check_storages(caffe2::serialize::PyTorchStreamReader& reader, const std::string& pickle,
                    std::span<const uint8_t> bytes, const std::string& what) {
  const std::string where = fmt::format("{} (record {})", what, pickle);
  const std::string directory = pickle.substr(0, pickle.size() - 4) + "/";  // data.pkl -> data/
  for (const PickledStorage& s : pickled_storages(bytes, where)) {
    FS_CHECK(s.elements >= 0, "{}: storage {} declares {} elements (a damaged or crafted file)",
             where, s.key, s.elements);
    if (s.elements == 0) continue;  // LibTorch reads no record for an empty storage
    const std::string record = directory + s.key;
    FS_CHECK(reader.hasRecord(record),
             "{}: storage {} has no record {} for its {} elements (a damaged or crafted file)",
             where, s.key, record, s.elements);
    const uint64_t element = element_bytes(s.type);
    const uint64_t size = reader.getRecordSize(record);
    FS_CHECK(static_cast<uint64_t>(s.elements) <= size / element,
             "{}: storage {} declares {} elements of {} bytes ({}), but its record {} holds {} "
             "bytes (a damaged or crafted file)",
             where, s.key, s.elements, element, s.type, record, size);
  }
}

}  // namespace

std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_torch_archive(
    std::span<const uint8_t> bytes, const std::string& what) {
  check_zip_directory(bytes, what);
  auto reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
      std::make_shared<BoundedReadAdapter>(bytes));
  check_torch_archive(*reader, bytes.size(), what);
  return reader;
}

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
    // data.pkl, constants.pkl, and the code's .debug_pkl source maps: LibTorch unpickles them all;
    // only the first two name storages.
    const bool pickle = name.ends_with(".pkl");
    if (!pickle && !name.ends_with(".debug_pkl")) continue;
    const auto [data, size] = reader.getRecord(name);
    const std::span<const uint8_t> bytes{static_cast<const uint8_t*>(data.get()), size};
    if (pickle)
      check_storages(reader, name, bytes, what);  // its walk checks the lengths too
    else
      check_pickle_lengths(bytes, fmt::format("{} (record {})", what, name));
  }
}

}  // namespace forensight::models
