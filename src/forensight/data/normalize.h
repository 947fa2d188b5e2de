// Normalisation on the device: a batch crosses the bus as uint8 (4x fewer bytes than float) and
// becomes float, normalised and optionally channels_last where the arithmetic is cheap.
#pragma once
#include <torch/torch.h>

#include <array>
#include <string>

#include "forensight/data/input_filter.h"

namespace forensight::data {

enum class NormPreset {
  kImageNet,  // mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225): torchvision CNNs
  kHalf,      // mean 0.5, std 0.5 per channel: ViT checkpoints (values in [-1, 1])
};

// "imagenet", "half" or "vit" (case-insensitive); throws Error listing the valid names otherwise.
NormPreset parse_norm_preset(const std::string& name);
const char* norm_preset_name(NormPreset preset);

// Per channel (R, G, B), on the [0, 1] scale: a pixel p becomes (p / 255 - mean) / std.
struct NormStatistics {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};
NormStatistics norm_statistics(NormPreset preset);

// images_u8: (B, 3, H, W) uint8 on any device -> (B, 3, H, W) float32 on `device`, (x/255 - mean)
// / std, in channels_last memory format when asked. The copy happens before the conversion.
torch::Tensor normalize_batch(const torch::Tensor& images_u8, NormPreset preset,
                              torch::Device device, bool channels_last);

// The model's input on every path (train, validation, eval, predict, int8 calibration, serve):
// decoded pixels -> input filter -> normalisation. With a filter the residual r (pixel units,
// within [-255, 255]) becomes r / (255 std): the preset's scale without its mean. Both filters
// answer 0 to a constant, so this is exactly the filter applied to the normalised image (the mean
// cancels), which is how the NPR paper's code feeds its network (normalise, then residual), and the
// model's first layer sees the normalised image's local differences. kNone is the overload above.
// images_u8: (B, 3, H, W) uint8 -> (B, 3, H, W) float32 on `device`
torch::Tensor normalize_batch(const torch::Tensor& images_u8, NormPreset preset, InputFilter filter,
                              torch::Device device, bool channels_last);

}  // namespace forensight::data
