// Helpers shared by the data tests: a self-deleting temporary folder, file I/O, synthetic images
// with known pixels, and running the reference Python (FORENSIGHT_PYTHON) from a test.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../support/build_paths.h"
#include "forensight/data/image.h"

namespace forensight::data::testing {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("forensight-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A smooth colour gradient with some texture: JPEG-friendly, every pixel different.
inline Image gradient_image(int width, int height, uint32_t seed = 1) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  std::mt19937 rng(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.row(y) + x * 3;
      p[0] = static_cast<uint8_t>((x * 255) / std::max(1, width - 1));
      p[1] = static_cast<uint8_t>((y * 255) / std::max(1, height - 1));
      p[2] = static_cast<uint8_t>(((x + y) * 7 + rng() % 16) & 0xFF);
    }
  return image;
}

// Runs `script` (a file under tests/data) with the reference Python and arguments; returns the
// exit status. Output goes to the test's log.
inline int run_python(const std::string& script, const std::string& args) {
  std::string command = std::string(FORENSIGHT_PYTHON) + " " +
                        forensight::testing::test_source_dir() + "/data/" + script + " " + args;
  return std::system(command.c_str());
}

struct DiffStats {
  int64_t count = 0;
  int max_abs = 0;
  double within_1 = 0.0;  // fraction of values with |a - b| <= 1
  double within_2 = 0.0;
  double mean_abs = 0.0;
};

inline DiffStats compare_bytes(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  DiffStats s;
  s.count = static_cast<int64_t>(std::min(a.size(), b.size()));
  int64_t le1 = 0, le2 = 0, total = 0;
  for (int64_t i = 0; i < s.count; ++i) {
    int d = std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
    s.max_abs = std::max(s.max_abs, d);
    le1 += d <= 1;
    le2 += d <= 2;
    total += d;
  }
  if (s.count > 0) {
    s.within_1 = static_cast<double>(le1) / s.count;
    s.within_2 = static_cast<double>(le2) / s.count;
    s.mean_abs = static_cast<double>(total) / s.count;
  }
  return s;
}

}  // namespace forensight::data::testing
