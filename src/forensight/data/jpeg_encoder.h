// JPEG encoding through TurboJPEG with a per-thread compressor: the re-compression augmentation,
// the built-in dataset generator and the tests that need JPEGs with known content.
#pragma once
#include <cstdint>
#include <vector>

#include "forensight/data/image.h"

namespace forensight::data {

enum class ChromaSubsampling { k444, k420, kGray };

struct JpegEncodeOptions {
  int quality = 90;                                         // 1..100
  ChromaSubsampling subsampling = ChromaSubsampling::k420;  // Pillow's default below quality 100
  bool progressive = false;
};

// in: (H, W, 3) uint8 RGB -> JPEG file bytes. Throws Error for bad options or a failed encode.
std::vector<uint8_t> encode_jpeg(const Image& in, const JpegEncodeOptions& options = {});

}  // namespace forensight::data
