// uint8 -> float normalisation after the host-to-device copy, folded into one multiply-add per
// value: x * (1 / (255 std)) - mean / std. On the CPU a uint8 has only 256 values, so each
// channel's results are tabulated once and the batch is one table look-up per value (issue #2: the
// tensor path converted to float and then ran a broadcasting addcmul, two passes over 4-byte
// values).
#include "forensight/data/normalize.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/ranges.h>

#include "forensight/core/error.h"
#include "forensight/core/parallel.h"

namespace forensight::data {

NormPreset parse_norm_preset(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == "imagenet") return NormPreset::kImageNet;
  if (lower == "half" || lower == "vit") return NormPreset::kHalf;
  fail("unknown normalisation preset '{}': valid presets are imagenet, half (alias vit)", name);
}

const char* norm_preset_name(NormPreset preset) {
  return preset == NormPreset::kImageNet ? "imagenet" : "half";
}

namespace {

void check_uint8_batch(const torch::Tensor& images_u8) {
  FS_CHECK(
      images_u8.scalar_type() == torch::kUInt8 && images_u8.dim() == 4 && images_u8.size(1) == 3,
      "normalize_batch expects a (B, 3, H, W) uint8 tensor, got {} of shape {}",
      std::string(c10::toString(images_u8.scalar_type())),
      fmt::format("{}", fmt::join(images_u8.sizes(), "x")));
}

}  // namespace

NormStatistics norm_statistics(NormPreset preset) {
  if (preset == NormPreset::kImageNet) return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  return {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}};
}

torch::Tensor normalize_batch(const torch::Tensor& images_u8, NormPreset preset,
                              torch::Device device, bool channels_last) {
  check_uint8_batch(images_u8);
  const NormStatistics stats = norm_statistics(preset);
  std::array<float, 3> scale, shift;
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * stats.std[c]);
    shift[c] = -stats.mean[c] / stats.std[c];
  }
  if (images_u8.device().is_cpu() && device.is_cpu() && !channels_last) {
    // The same float arithmetic as addcmul(shift, x, scale), once per value and channel.
    std::array<std::array<float, 256>, 3> table;
    for (int c = 0; c < 3; ++c)
      for (int v = 0; v < 256; ++v) table[c][v] = shift[c] + static_cast<float>(v) * scale[c];
    torch::Tensor in = images_u8.contiguous();  // (B, 3, H, W) uint8
    torch::Tensor out = torch::empty(in.sizes(), torch::kFloat32);
    const int64_t plane = in.size(2) * in.size(3);
    const uint8_t* src = in.data_ptr<uint8_t>();
    float* dst = out.data_ptr<float>();
    at::parallel_for(0, in.size(0) * 3, /*grain_size=*/1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* t = table[p % 3].data();
        const uint8_t* s = src + p * plane;
        float* d = dst + p * plane;
        for (int64_t i = 0; i < plane; ++i) d[i] = t[s[i]];
      }
    });
    return out;  // (B, 3, H, W) float32
  }

  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  torch::Tensor scale_t = torch::tensor({scale[0], scale[1], scale[2]}, options).view({1, 3, 1, 1});
  torch::Tensor shift_t = torch::tensor({shift[0], shift[1], shift[2]}, options).view({1, 3, 1, 1});

  torch::Tensor on_device = images_u8.to(device, /*non_blocking=*/true);  // (B, 3, H, W) uint8
  if (channels_last) on_device = on_device.contiguous(torch::MemoryFormat::ChannelsLast);
  torch::Tensor out = torch::addcmul(shift_t, on_device.to(torch::kFloat32), scale_t);
  if (channels_last) out = out.contiguous(torch::MemoryFormat::ChannelsLast);
  return out;  // (B, 3, H, W) float32
}

torch::Tensor normalize_batch(const torch::Tensor& images_u8, NormPreset preset, InputFilter filter,
                              torch::Device device, bool channels_last) {
  if (filter == InputFilter::kNone)
    return normalize_batch(images_u8, preset, device, channels_last);
  check_uint8_batch(images_u8);
  const NormStatistics stats = norm_statistics(preset);
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  torch::Tensor scale =
      torch::tensor({1.0f / (255.0f * stats.std[0]), 1.0f / (255.0f * stats.std[1]),
                     1.0f / (255.0f * stats.std[2])},
                    options)
          .view({1, 3, 1, 1});
  torch::Tensor pixels = images_u8.to(device, /*non_blocking=*/true)
                             .to(torch::kFloat32)
                             .contiguous();                            // (B, 3, H, W) float, 0..255
  torch::Tensor out = apply_input_filter(pixels, filter).mul_(scale);  // (B, 3, H, W) float
  if (channels_last) out = out.contiguous(torch::MemoryFormat::ChannelsLast);
  return out;  // (B, 3, H, W) float32
}

}  // namespace forensight::data
