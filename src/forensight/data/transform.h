// Per-sample transforms from a decoded image to a fixed-size uint8 image: resize (antialiased,
// matching torchvision's Resize) or crops at native resolution, flips, and the CNNDetection-style
// blur and JPEG re-compression augmentations, each with its own probability.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "forensight/data/image.h"

namespace forensight::data {

enum class SizeMode {
  kResize,        // resize the whole image to image_size_px x image_size_px (torchvision Resize)
  kCenterCrop,    // resize the short side to resize_px, then center-crop image_size_px
  kRandomCrop,    // random image_size_px crop at native resolution (keeps upsampling traces)
  kNativeCenter,  // center crop at native resolution (evaluation counterpart of kRandomCrop)
};

// A deterministic degradation of the whole decoded image before sizing: the robustness sweep of
// `forensight eval` (what survives re-compression, blur and downscaling on the way to a platform).
struct Degradation {
  int jpeg_quality = 0;     // re-compress at this quality (0 = off)
  double blur_sigma = 0.0;  // Gaussian blur, pixels of the decoded image (0 = off)
  double downscale = 1.0;   // resize both sides by this factor in (0, 1] (1 = off)

  bool active() const { return jpeg_quality > 0 || blur_sigma > 0.0 || downscale < 1.0; }
};

struct TransformOptions {
  int image_size_px = 224;  // output side
  SizeMode size_mode = SizeMode::kResize;
  int resize_px = 256;      // short side before center crop (kCenterCrop only)
  double hflip_prob = 0.0;  // horizontal flip
  double blur_prob = 0.0;   // Gaussian blur with sigma uniform in [blur_sigma_min, max]
  double blur_sigma_min = 0.0;
  double blur_sigma_max = 3.0;
  double jpeg_prob = 0.0;  // JPEG re-compression with quality uniform in [min, max]
  int jpeg_quality_min = 30;
  int jpeg_quality_max = 100;
  int64_t max_pixels = 100'000'000;  // refuse images whose header declares more
  Degradation degradation;  // evaluation only: applied first, to the full-resolution decode
};

// The decode hint for this transform: the smallest side a DCT-scaled JPEG decode may produce
// without losing pixels the transform needs (0 = decode at full size, e.g. native crops).
int decode_min_side_px(const TransformOptions& options);

// Applies the transform to one decoded image; random choices draw from rng only, so a sample's
// output depends on (its seed, its epoch) and not on which thread ran it.
// in: (H, W, 3) uint8 -> (image_size_px, image_size_px, 3) uint8
Image apply_transform(const Image& in, const TransformOptions& options, std::mt19937_64& rng);

// The same transform and the same pixels, written as planes into `out`: in: (H, W, 3) uint8 ->
// out: (3, image_size_px, image_size_px) uint8, e.g. one sample's slot of a batch tensor. Resizes
// and center crops without blur or JPEG re-compression go from `in` to `out` with no HWC image in
// between (the loader's common case).
void apply_transform_chw(const Image& in, const TransformOptions& options, std::mt19937_64& rng,
                         uint8_t* out);

// in: (H, W, 3) uint8 -> out: (3, H, W) uint8.
void copy_hwc_to_chw(const Image& image, uint8_t* out);

}  // namespace forensight::data
