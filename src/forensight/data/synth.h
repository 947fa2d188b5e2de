// The built-in dataset generator ("forensight data synth"): real images are crops of the
// photographs in Debian's mate-backgrounds package, fake ones are such crops re-synthesised by a
// small transposed-convolution generator, so a detector can be trained and tested offline.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace forensight::data {

struct SynthOptions {
  std::string out_dir;  // receives 0_real/, 1_fake/ and train.csv
  int count = 400;      // images in total, half per class; >= 2
  int size_px = 256;    // side of each square image, 32..2048
  uint64_t seed = 0;    // crops, generator weights and fitting all derive from it
  int quality = 90;     // JPEG quality of both classes, 1..100
  std::string photos_dir = "/usr/share/backgrounds/mate";  // where the photographs are
  int fit_steps = 40;    // Adam steps fitting the generator to reconstruct photo crops
  int fit_batch = 6;     // crops per fitting step
  int fit_crop_px = 96;  // side of the (downscaled) fitting crops, a multiple of 4
};

struct SynthStats {
  int64_t real = 0;
  int64_t fake = 0;
  double fit_loss = 0.0;  // L1 reconstruction loss of the last fitting step, in [-1, 1] units
  double seconds = 0.0;
  std::string csv_path;
};

// The photographs under dir (recursively; *.jpg / *.jpeg, sorted). Throws Error naming the
// mate-backgrounds package when there are none.
std::vector<std::string> find_photographs(const std::string& dir);

// Writes out_dir/0_real/real_NNNNN.jpg, out_dir/1_fake/fake_NNNNN.jpg and out_dir/train.csv (the
// Kaggle layout: unnamed index column, file_name relative to out_dir, label). Deterministic for a
// given seed on one machine.
SynthStats synthesize_dataset(const SynthOptions& options);

}  // namespace forensight::data
