// A trained detector ready for inference: the model rebuilt from a checkpoint's own config, its
// weights, and the evaluation-time preprocessing that config implies. `eval`, `predict` and the
// server all start from here, so they can never disagree on how an image is prepared.
//
// ResNet checkpoints run as an inference engine rather than as the trained module: BatchNorm folded
// into the convolutions (same results to float rounding), or int8 when the checkpoint carries
// calibration from `forensight quantize`.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "forensight/data/normalize.h"
#include "forensight/data/transform.h"
#include "forensight/eval/inference.h"
#include "forensight/models/classifier.h"
#include "forensight/models/int8_resnet.h"
#include "forensight/train/train_options.h"

namespace forensight::eval {

// auto: int8 when the checkpoint is calibrated and runs on the CPU, else fp32.
// fp32: float (ResNet with BatchNorm folded). int8: quantized ResNet on the CPU.
enum class Precision { kAuto, kFloat32, kInt8 };
Precision parse_precision(const std::string& name);  // refuses others, listing the valid names
std::vector<std::string> precision_names();

struct Detector {
  std::string checkpoint_path;
  train::TrainOptions config;                     // the run's resolved options
  std::shared_ptr<models::ClassifierImpl> model;  // in eval mode, on `device`
  data::TransformOptions transform;               // deterministic (no augmentation)
  data::NormPreset normalization = data::NormPreset::kImageNet;
  data::InputFilter input_filter = data::InputFilter::kNone;  // the run's, before normalisation
  torch::Device device = torch::kCPU;
  std::string precision = "fp32";  // what `model` computes in: fp32 or int8
  bool channels_last = false;      // feed `model` NHWC input (the ResNet engines' own layout)
  // Feed `model` uint8 pixels: it normalises them itself (int8 without an input filter).
  bool raw_pixels = false;

  std::string name() const { return config.model; }
};

// Throws Error naming the checkpoint when it is missing, not a Forensight checkpoint, or does not
// match the model its config describes; and when int8 is asked of a model, device or checkpoint
// that cannot give it.
Detector load_detector(const std::string& checkpoint_path, const torch::Device& device,
                       Precision precision = Precision::kAuto);

// Replaces a ResNet's trained module by its inference engine (see above); other models are kept.
// int8_ranges: calibration from the checkpoint (undefined when none). detector.normalization and
// detector.input_filter must already be the checkpoint's.
// int8_engine: which quantized engine runs int8 (default: models::default_int8_engine()).
void prepare_for_inference(Detector& detector, Precision precision,
                           const torch::Tensor& int8_ranges,
                           std::optional<models::Int8Engine> int8_engine = std::nullopt);

// How batches are fed to detector.model.
InferenceOptions inference_options(const Detector& detector);

}  // namespace forensight::eval
