// One image in, one verdict out: decode (DCT-scaled for JPEG), the detector's own deterministic
// transform, normalise, forward, P(AI-generated). The path of `predict`, its benchmark and the
// server; an unreadable image gives a verdict with the error, never an exception.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "forensight/eval/detector.h"

namespace forensight::eval {

struct Prediction {
  std::string path;
  std::string model;
  double probability_fake = 0.0;  // P(AI-generated)
  int label = -1;                 // 1 when probability_fake >= threshold, else 0; -1 on error
  double milliseconds = 0.0;      // decode + transform + forward
  std::string error;              // non-empty when the image could not be read
};

// The detector's input for one encoded image: decode, transform, normalise.
// -> (1, 3, H, W) float on detector.device. Throws Error when the image cannot be read.
torch::Tensor preprocess_bytes(const Detector& detector, std::span<const uint8_t> bytes);

Prediction predict_bytes(Detector& detector, std::span<const uint8_t> bytes,
                         const std::string& name, double threshold = 0.5);
Prediction predict_file(Detector& detector, const std::string& path, double threshold = 0.5);

// Expands files, folders (recursively), glob patterns and CSV manifests into image paths, in
// order. A path that matches nothing is returned as is, so its error is reported per file.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

}  // namespace forensight::eval
