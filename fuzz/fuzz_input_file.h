// The fuzz input written to a file, for the readers whose product entry takes a path (they map the
// file, or choose the format by its extension). One file per process and extension, in /dev/shm
// where there is one, rewritten for every input, removed at exit.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace forensight::fuzz {

class InputFile {
 public:
  // `name` ends with the extension the reader expects ("config.yaml").
  explicit InputFile(const std::string& name) {
    std::filesystem::path dir = std::filesystem::is_directory("/dev/shm")
                                    ? std::filesystem::path("/dev/shm")
                                    : std::filesystem::temp_directory_path();
    path_ = (dir / ("forensight-fuzz-" + std::to_string(::getpid()) + "-" + name)).string();
  }
  ~InputFile() { std::remove(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Replaces the file's contents with the input; returns its path.
  const std::string& write(const uint8_t* data, size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();  // the harness, not the reader, failed: stop loudly
    return path_;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace forensight::fuzz
