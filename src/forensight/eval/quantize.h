// `forensight quantize`: calibrates a ResNet checkpoint for int8 CPU inference. Activation ranges
// are measured by running the float model (BatchNorm folded) over calibration images; the output
// is the same checkpoint plus those ranges, which `predict` and `eval` then run in int8. Before it
// returns, the int8 model is checked against the float one on held-out images, so the user sees
// what the speed costs in agreement and accuracy.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "forensight/eval/split_choice.h"

namespace forensight::eval {

struct QuantizeOptions {
  std::string checkpoint_path;           // a ResNet checkpoint from `forensight train`
  std::string data_path;                 // class folders or a CSV manifest
  std::string out_path;                  // the calibrated checkpoint to write
  SplitChoice calibration{"train", ""};  // images to measure activation ranges on
  int calibration_images = 256;          // at most this many of them
  SplitChoice check{"auto", ""};         // images to compare int8 with fp32 on
  int batch_size = 32;
  int workers = 2;
};

// Writes options.out_path and returns the comparison: per precision the metrics (when the check
// images are labelled), the share of images whose verdict agrees, the largest change of
// P(AI-generated), and the images/s of each.
nlohmann::json quantize_checkpoint(const QuantizeOptions& options);

}  // namespace forensight::eval
