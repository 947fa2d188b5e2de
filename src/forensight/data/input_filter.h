// Fixed input filters that hand the model the differences between neighbouring pixels instead of
// the image (issue #17): upsampling in a generator leaves correlations between neighbours that the
// image's content hides, and a detector fed the residual generalises across generators better
// (NPR, Tan et al., CVPR 2024). A run records its filter; every path applies it in
// data::normalize_batch, after decoding and before normalisation.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace forensight::data {

enum class InputFilter {
  kNone,      // the image as decoded
  kNpr,       // NPR residual: x - up2(down2(x)), nearest both ways, per channel
  kHighPass,  // x minus the mean of its 4 neighbours (a 3x3 Laplacian / 4), per channel
};

// "none", "npr" or "highpass"; throws Error naming the value and the valid ones otherwise.
InputFilter parse_input_filter(const std::string& name);
const char* input_filter_name(InputFilter filter);
std::vector<std::string> input_filter_names();

// Applies `filter` to each channel of each image, on the scale the input has (pixel values 0..255
// give residuals in [-255, 255]). Both filters answer 0 to a constant image, so a per-channel
// offset (a normalisation's mean) passes through neither.
//   kNpr: r(i, j) = x(i, j) - x(i - i % 2, j - j % 2): nearest down-sampling by 2 keeps the
//   top-left
//     pixel of each 2x2 block and nearest up-sampling copies it back over the block (the NPR
//     paper's F.interpolate(scale_factor=0.5) then (2), for even sides; an odd last row or column
//     is its own block's anchor, residual 0).
//   kHighPass: h(i, j) = x(i, j) - (x(i-1, j) + x(i+1, j) + x(i, j-1) + x(i, j+1)) / 4, the
//     border replicated. Kernel [[0, -1, 0], [-1, 4, -1], [0, -1, 0]] / 4.
// pixels: (B, C, H, W) float -> (B, C, H, W) float, contiguous; kNone returns `pixels` itself.
torch::Tensor apply_input_filter(const torch::Tensor& pixels, InputFilter filter);

}  // namespace forensight::data
