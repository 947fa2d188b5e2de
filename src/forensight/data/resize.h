// Antialiased bilinear resize, a re-implementation of Pillow's ImagingResample (the "triangle
// filter whose support grows with the downscale factor"): what torchvision's Resize does to a PIL
// image, so models trained here see the pixels the Python reference pipeline would produce.
#pragma once
#include <cstdint>
#include <utility>

#include "forensight/data/image.h"

namespace forensight::data {

// in: (H, W, 3) uint8 -> (height, width, 3) uint8. Separable: a horizontal pass into a uint8
// intermediate, then a vertical pass, both in 22-bit fixed point with Pillow's rounding.
Image resize_bilinear_antialias(const Image& in, int width, int height);

// The same pixels, written as planes straight into `out`: in: (H, W, 3) uint8 -> out: (3, height,
// width) uint8, e.g. one sample's slot of a batch tensor. Allocates nothing once the calling
// thread has resized an image of the same geometry (coefficients and scratch are kept per thread).
void resize_bilinear_antialias_chw(const Image& in, int width, int height, uint8_t* out);

// Resize so that the shorter side becomes short_side_px, the longer int(short * long / short)
// (torchvision's Resize(int) rule).
Image resize_short_side(const Image& in, int short_side_px);
// The {width, height} resize_short_side gives an image of width x height.
std::pair<int, int> short_side_size(int width, int height, int short_side_px);

}  // namespace forensight::data
