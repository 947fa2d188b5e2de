// Gaussian blur for the CNNDetection-style augmentation (Wang et al. 2020 blur sigma ~ U[0, 3]),
// following scipy.ndimage.gaussian_filter: kernel truncated at 4 sigma, "reflect" borders.
#pragma once
#include "forensight/data/image.h"

namespace forensight::data {

// in: (H, W, 3) uint8 -> same shape; sigma <= 0 returns the input unchanged. Separable, float
// accumulation, rounded to the nearest uint8.
Image gaussian_blur(const Image& in, double sigma);

}  // namespace forensight::data
