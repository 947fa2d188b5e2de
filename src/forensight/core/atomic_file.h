// Atomic file replacement: write to a temporary file in the destination's folder, fsync it, rename
// it over the destination, fsync the folder. A crash leaves either the old file or the new one,
// never a torn mix — what checkpoints, resolved configs and reports need.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace forensight {

// Owns one temporary file next to `destination`. Write through write()/write_at() (which apply
// core/fault_injection's write faults and name the destination in their errors, ENOSPC included)
// or to temp_path() by any other means, then commit(); without commit() the destructor removes the
// temporary file and the destination is left as it was. Not copyable: one owner per temporary file.
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
  // Appends to the temporary file; throws Error naming the destination and errno's text (a full
  // disk says so) and that the destination is unchanged.
  void write(const void* data, size_t bytes);
  // Overwrites bytes at `offset` of the temporary file (a header patched once counts are known).
  void write_at(uint64_t offset, const void* data, size_t bytes);
  // fsync the temporary file, rename it onto the destination, fsync the folder. Throws Error (with
  // errno's text) on failure, in which case the temporary file is removed by the destructor. With
  // keep_previous_as, an existing destination is first renamed to that path (in the same folder),
  // so the file it replaces stays whole beside it (the checkpoint before `last`).
  void commit(const std::filesystem::path& keep_previous_as = {});

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_path_;
  int fd_ = -1;  // open for write()/write_at() until commit()
  bool committed_ = false;
};

// Replaces `path` with `bytes` atomically and durably (see AtomicFile).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace forensight
