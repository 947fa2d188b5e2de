// The seed's images as the benchmarks synthesise them with `data synth`: ~700x700 JPEGs (the
// Kaggle set's size, ../shared/seed/) at quality 90. One definition for every benchmark that
// decodes or predicts on them, so that their figures describe the same images.
#pragma once

namespace forensight::bench {

inline constexpr int kSeedImageSidePx = 700;
inline constexpr int kSeedImageJpegQuality = 90;

}  // namespace forensight::bench
