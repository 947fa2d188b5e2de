// A decoded image in memory: 8-bit RGB, interleaved (HWC). Decoders produce it, transforms map it
// to another, the loader copies it into a batch tensor. Torch-free so decoding compiles quickly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace forensight::data {

struct Image {
  int width = 0;                // pixels
  int height = 0;               // pixels
  std::vector<uint8_t> pixels;  // (height, width, 3) uint8, row-major RGB

  size_t size_bytes() const { return pixels.size(); }
  uint8_t* row(int y) { return pixels.data() + static_cast<size_t>(y) * width * 3; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * 3; }
};

}  // namespace forensight::data
