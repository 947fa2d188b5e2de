#include "tiny_dataset.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <vector>

namespace forensight::testing {
namespace {

// Removes the folders make_test_dir gave out when the test program ends with every test passed
// (under ctest a program runs one test); a failure keeps them all for a look. Integration tests
// write ResNet18 checkpoints of 134 MB each, and a suite that kept them filled a nearly full disk
// halfway through a CI run. At the program's end, not the test's, because fixtures shared by a
// suite (SetUpTestSuite, a static) outlive the test that made them.
class RemoveTestDirsWhenAllPassed : public ::testing::EmptyTestEventListener {
 public:
  static RemoveTestDirsWhenAllPassed& instance() {
    static RemoveTestDirsWhenAllPassed* listener = [] {
      auto* created = new RemoveTestDirsWhenAllPassed;  // gtest's listener list owns it
      ::testing::UnitTest::GetInstance()->listeners().Append(created);
      return created;
    }();
    return *listener;
  }

  void add(const std::filesystem::path& dir) {
    std::lock_guard lock(mutex_);
    dirs_.push_back(dir);
  }

  void OnTestProgramEnd(const ::testing::UnitTest& unit_test) override {
    if (!unit_test.Passed()) return;
    std::lock_guard lock(mutex_);
    for (const auto& dir : dirs_) {
      std::error_code ignored;  // a folder left behind costs disk, not correctness
      std::filesystem::remove_all(dir, ignored);
    }
    dirs_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<std::filesystem::path> dirs_;
};

void write_jpeg(const std::string& path, const std::vector<unsigned char>& rgb, int size,
                int quality) {
  tjhandle handle = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long jpeg_size = 0;
  if (tjCompress2(handle, rgb.data(), size, 0, size, TJPF_RGB, &jpeg, &jpeg_size, TJSAMP_444,
                  quality, TJFLAG_ACCURATEDCT) != 0) {
    tjDestroy(handle);
    throw std::runtime_error("tjCompress2 failed");
  }
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpeg), jpeg_size);
  tjFree(jpeg);
  tjDestroy(handle);
}

std::string fmt_name(int label, int i) {
  return (label == 0 ? std::string("0_real/real_") : std::string("1_fake/fake_")) +
         std::to_string(i) + ".jpg";
}

}  // namespace

std::string write_tiny_dataset(const std::string& dir, const TinyDatasetOptions& o) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/0_real");
  fs::create_directories(dir + "/1_fake");
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 4.0);
  std::ofstream csv;
  if (o.write_csv) {
    csv.open(dir + "/train.csv");
    csv << ",file_name,label\n";
  }
  int row = 0;
  for (int label = 0; label < 2; ++label) {
    for (int i = 0; i < o.images_per_class; ++i) {
      std::array<double, 3> base, gx, gy;
      for (int c = 0; c < 3; ++c) {
        base[c] = 40 + 170 * unit(rng);
        gx[c] = (unit(rng) - 0.5) * 80.0 / o.size_px;
        gy[c] = (unit(rng) - 0.5) * 80.0 / o.size_px;
      }
      std::vector<unsigned char> rgb(static_cast<size_t>(o.size_px) * o.size_px * 3);
      for (int y = 0; y < o.size_px; ++y)
        for (int x = 0; x < o.size_px; ++x)
          for (int c = 0; c < 3; ++c) {
            double v = base[c] + gx[c] * x + gy[c] * y + noise(rng);
            if (label == 1) v += ((x + y) % 2 == 0 ? 18.0 : -18.0);
            rgb[(static_cast<size_t>(y) * o.size_px + x) * 3 + c] =
                static_cast<unsigned char>(std::clamp(v, 0.0, 255.0));
          }
      const std::string name = fmt_name(label, i);
      write_jpeg(dir + "/" + name, rgb, o.size_px, o.quality);
      if (o.write_csv) csv << row++ << "," << name << "," << label << "\n";
    }
  }
  return dir;
}

std::string make_test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (auto& ch : name)
    if (ch == '/') ch = '_';
  auto dir = std::filesystem::temp_directory_path() / "forensight-tests" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RemoveTestDirsWhenAllPassed::instance().add(dir);
  return dir.string();
}

int run_command(const std::string& command, std::string* output) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), ::pclose);
  if (!pipe) return -1;
  std::array<char, 4096> buffer;
  std::string text;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) > 0)
    text.append(buffer.data(), n);
  const int status = ::pclose(pipe.release());
  if (output) *output = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace forensight::testing
