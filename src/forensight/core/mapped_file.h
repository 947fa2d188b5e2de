// A read-only memory mapping of a whole file, owned: the destructor unmaps and closes. The decoded
// cache reads its records through one, so the page cache (not this process) holds the data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace forensight {

class MappedFile {
 public:
  // Throws Error naming the path and the system's reason when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&&) = delete;
  MappedFile& operator=(MappedFile&&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace forensight
