// Tiny labelled image sets written to a temporary folder for tests: "real" images are smooth
// colour gradients with noise, "fake" ones the same with a periodic 2-pixel pattern, the kind of
// trace transposed-convolution upsampling leaves — enough for a model to learn in a few steps.
#pragma once
#include <string>

namespace forensight::testing {

struct TinyDatasetOptions {
  int images_per_class = 8;
  int size_px = 48;
  int quality = 95;  // JPEG quality
  unsigned seed = 1;
  bool write_csv = true;  // also DIR/train.csv in the Kaggle layout
};

// Writes DIR/0_real/*.jpg and DIR/1_fake/*.jpg (and train.csv); returns DIR.
std::string write_tiny_dataset(const std::string& dir, const TinyDatasetOptions& options = {});

// A fresh empty folder under the system's temporary directory, named after the running test;
// removed when the test program ends with every test passed, kept after a failure.
std::string make_test_dir();

// Runs a shell command; returns its exit status and fills `output` with stdout+stderr.
int run_command(const std::string& command, std::string* output);

}  // namespace forensight::testing
