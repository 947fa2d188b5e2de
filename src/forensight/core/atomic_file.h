// Atomic file replacement: write to a temporary file in the destination's folder, fsync it, rename
// it over the destination, fsync the folder. A crash leaves either the old file or the new one,
// never a torn mix — what checkpoints, resolved configs and reports need.
#pragma once
#include <filesystem>
#include <string_view>

namespace forensight {

// Owns one temporary file next to `destination`. Write to temp_path() by any means (an ofstream,
// torch::save, a C library), then commit(); without commit() the destructor removes the temporary
// file and the destination is left as it was. Not copyable: one owner per temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path destination);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;

  const std::filesystem::path& temp_path() const { return temp_path_; }
  const std::filesystem::path& destination() const { return destination_; }
  // fsync the temporary file, rename it onto the destination, fsync the folder. Throws Error (with
  // errno's text) on failure, in which case the temporary file is removed by the destructor.
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_path_;
  bool committed_ = false;
};

// Replaces `path` with `bytes` atomically and durably (see AtomicFile).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace forensight
