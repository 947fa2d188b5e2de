// PNG encoding of 8-bit RGB images through libpng: lossless output for debugging dumps and for
// tests that need files with exactly known pixels.
#pragma once
#include <cstdint>
#include <vector>

#include "forensight/data/image.h"

namespace forensight::data {

// in: (H, W, 3) uint8 -> PNG file bytes. Throws Error when libpng fails.
std::vector<uint8_t> encode_png(const Image& in);

}  // namespace forensight::data
