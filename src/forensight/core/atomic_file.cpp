#include "forensight/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "forensight/core/error.h"

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
  FileDescriptor fd(::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  FS_CHECK(fd.get() >= 0, "cannot create temporary file '{}': {}", temp_path_.string(),
           errno_text());
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : destination_(std::move(other.destination_)),
      temp_path_(std::move(other.temp_path_)),
      committed_(other.committed_) {
  other.committed_ = true;  // the moved-from object no longer owns the temporary file
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !temp_path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(temp_path_, ignored);
  }
}

void AtomicFile::commit() {
  FS_CHECK(!committed_, "'{}' was already committed", destination_.string());
  {
    FileDescriptor fd(::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC));
    FS_CHECK(fd.get() >= 0, "temporary file '{}' vanished before commit: {}", temp_path_.string(),
             errno_text());
    FS_CHECK(::fsync(fd.get()) == 0, "fsync of '{}' failed: {}", temp_path_.string(), errno_text());
    FS_CHECK(fd.close() == 0, "close of '{}' failed: {}", temp_path_.string(), errno_text());
  }
  FS_CHECK(::rename(temp_path_.c_str(), destination_.c_str()) == 0,
           "cannot rename '{}' onto '{}': {}", temp_path_.string(), destination_.string(),
           errno_text());
  committed_ = true;
  // The rename is durable only once the folder's entry is on disk.
  fsync_path(folder_of(destination_), O_RDONLY | O_DIRECTORY, "folder");
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile file(path);
  {
    FileDescriptor fd(::open(file.temp_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    FS_CHECK(fd.get() >= 0, "cannot open '{}' for writing: {}", file.temp_path().string(),
             errno_text());
    const char* data = bytes.data();
    size_t left_bytes = bytes.size();
    while (left_bytes > 0) {
      ssize_t written_bytes = ::write(fd.get(), data, left_bytes);
      if (written_bytes < 0 && errno == EINTR) continue;
      FS_CHECK(written_bytes > 0, "write to '{}' failed ({} bytes left): {}",
               file.temp_path().string(), left_bytes, errno_text());
      data += written_bytes;
      left_bytes -= static_cast<size_t>(written_bytes);
    }
    FS_CHECK(fd.close() == 0, "close of '{}' failed: {}", file.temp_path().string(), errno_text());
  }
  file.commit();
}

}  // namespace forensight
