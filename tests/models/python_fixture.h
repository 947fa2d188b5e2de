// Reference tensors from the venv's torchvision for the model tests: runs scripts/export_weights.py
// once per distinct set of arguments and caches its output under the temp folder, keyed by the
// arguments and the script's text, so repeated test runs skip Python's ~5 s start-up.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "forensight/core/source_dir.h"

namespace forensight::models::testing {

// std::filesystem::remove_all resolves to libtorch.so's exported copy, which crashes (a null
// call) with this libstdc++; this removes a flat folder (files only) file by file instead.
inline void remove_flat_dir(const std::filesystem::path& dir) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error))
    std::filesystem::remove(entry.path(), error);
  std::filesystem::remove(dir, error);
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs export_weights.py with `args` plus --output DIR/weights.safetensors and
// --reference DIR/reference.safetensors; returns DIR. Fails the test with the script's output.
inline std::filesystem::path export_fixture(const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path script = fs::path(core::source_dir()) / "scripts" / "export_weights.py";
  const size_t key = std::hash<std::string>{}(args + "\n" + read_text(script));
  const fs::path root = fs::temp_directory_path() / "forensight-test-fixtures";
  const fs::path dir = root / std::to_string(key);
  if (fs::exists(dir / "done")) return dir;
  const fs::path work = root / (std::to_string(key) + ".tmp" + std::to_string(getpid()));
  fs::create_directories(work);
  const std::string command =
      std::string("'") + FORENSIGHT_PYTHON + "' '" + script.string() + "' " + args + " --output '" +
      (work / "weights.safetensors").string() + "' --reference '" +
      (work / "reference.safetensors").string() + "' > '" + (work / "log.txt").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  if (status != 0) {
    ADD_FAILURE() << "export script failed (" << status << "): " << command << "\n"
                  << read_text(work / "log.txt");
    return work;
  }
  std::ofstream(work / "done") << "ok\n";
  std::error_code error;
  fs::rename(work, dir, error);  // another test process may have won the race: use its copy
  if (error) remove_flat_dir(work);
  return dir;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace forensight::models::testing
