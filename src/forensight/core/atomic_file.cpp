#include "forensight/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "forensight/core/error.h"
#include "forensight/core/fault_injection.h"

namespace forensight {
namespace {

// Owns a POSIX file descriptor for the few calls below.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now so that a failing close (delayed write errors on some file systems) is reported.
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

std::string errno_text() {
  return std::strerror(errno);
}

std::filesystem::path folder_of(const std::filesystem::path& path) {
  auto parent = path.parent_path();
  return parent.empty() ? std::filesystem::path(".") : parent;
}

void fsync_path(const std::filesystem::path& path, int flags, const char* what) {
  FileDescriptor fd(::open(path.c_str(), flags | O_CLOEXEC));
  FS_CHECK(fd.get() >= 0, "cannot open {} '{}' to fsync it: {}", what, path.string(), errno_text());
  FS_CHECK(::fsync(fd.get()) == 0, "fsync of {} '{}' failed: {}", what, path.string(),
           errno_text());
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path destination) : destination_(std::move(destination)) {
  FS_CHECK(!destination_.filename().empty(), "atomic write needs a file name, got the folder '{}'",
           destination_.string());
  auto folder = folder_of(destination_);
  FS_CHECK(std::filesystem::is_directory(folder),
           "cannot write '{}': the folder '{}' does not exist (create it first)",
           destination_.string(), folder.string());
  // Unique within the process (counter) and across processes (pid); O_EXCL guards the rest.
  static std::atomic<unsigned> counter{0};
  temp_path_ = folder / fmt::format(".{}.tmp.{}.{}", destination_.filename().string(), ::getpid(),
                                    counter.fetch_add(1));
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  FS_CHECK(fd_ >= 0, "cannot create temporary file '{}' to write '{}': {}", temp_path_.string(),
           destination_.string(), errno_text());
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : destination_(std::move(other.destination_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(other.fd_),
      committed_(other.committed_) {
  other.fd_ = -1;
  other.committed_ = true;  // the moved-from object no longer owns the temporary file
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(temp_path_, ignored);
  }
}

void AtomicFile::commit(const std::filesystem::path& keep_previous_as) {
  FS_CHECK(!committed_, "'{}' was already committed", destination_.string());
  if (fd_ >= 0) {
    const int fd = fd_;
    fd_ = -1;
    // A full disk can surface only here, on file systems that delay their write errors.
    FS_CHECK(::close(fd) == 0,
             "cannot write '{}': closing its temporary file '{}' failed: {}; '{}' is unchanged",
             destination_.string(), temp_path_.string(), errno_text(), destination_.string());
  }
  {
    FileDescriptor fd(::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC));
    FS_CHECK(fd.get() >= 0, "temporary file '{}' vanished before commit: {}", temp_path_.string(),
             errno_text());
    FS_CHECK(::fsync(fd.get()) == 0,
             "cannot write '{}': fsync of its temporary file '{}' failed: {}; '{}' is unchanged",
             destination_.string(), temp_path_.string(), errno_text(), destination_.string());
    FS_CHECK(fd.close() == 0, "close of '{}' failed: {}", temp_path_.string(), errno_text());
  }
  if (!keep_previous_as.empty() && std::filesystem::exists(destination_)) {
    // A rename, not a copy: the kept file is the very file that was complete before, so a
    // damaged new one never shares its bytes. Between this rename and the next the destination
    // is missing; readers fall back to keep_previous_as.
    FS_CHECK(::rename(destination_.c_str(), keep_previous_as.c_str()) == 0,
             "cannot keep '{}' as '{}' before replacing it: {}", destination_.string(),
             keep_previous_as.string(), errno_text());
  }
  fault_before_rename();
  FS_CHECK(::rename(temp_path_.c_str(), destination_.c_str()) == 0,
           "cannot rename '{}' onto '{}': {}", temp_path_.string(), destination_.string(),
           errno_text());
  committed_ = true;
  // The rename is durable only once the folder's entry is on disk.
  fsync_path(folder_of(destination_), O_RDONLY | O_DIRECTORY, "folder");
}

void AtomicFile::write(const void* data, size_t bytes) {
  FS_CHECK(fd_ >= 0, "'{}' is committed or moved: nothing more can be written",
           destination_.string());
  const char* next = static_cast<const char*>(data);
  size_t left_bytes = bytes;
  while (left_bytes > 0) {
    const ssize_t written_bytes = fault_aware_write(fd_, next, left_bytes);
    if (written_bytes < 0 && errno == EINTR) continue;
    FS_CHECK(written_bytes > 0,
             "cannot write '{}' ({} of {} bytes left, to its temporary file '{}'): {}; '{}' is "
             "unchanged",
             destination_.string(), left_bytes, bytes, temp_path_.string(),
             written_bytes < 0 ? errno_text() : std::string("no progress"), destination_.string());
    next += written_bytes;
    left_bytes -= static_cast<size_t>(written_bytes);
  }
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t bytes) {
  FS_CHECK(fd_ >= 0, "'{}' is committed or moved: nothing more can be written",
           destination_.string());
  const char* next = static_cast<const char*>(data);
  size_t left_bytes = bytes;
  while (left_bytes > 0) {
    const ssize_t written_bytes = fault_aware_pwrite(
        fd_, next, left_bytes, static_cast<off_t>(offset + (bytes - left_bytes)));
    if (written_bytes < 0 && errno == EINTR) continue;
    FS_CHECK(written_bytes > 0,
             "cannot write '{}' (at offset {}, to its temporary file '{}'): {}; '{}' is unchanged",
             destination_.string(), offset, temp_path_.string(),
             written_bytes < 0 ? errno_text() : std::string("no progress"), destination_.string());
    next += written_bytes;
    left_bytes -= static_cast<size_t>(written_bytes);
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace forensight
