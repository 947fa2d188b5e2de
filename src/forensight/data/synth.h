// The built-in dataset generator ("forensight data synth"): real images are crops of photographs
// from Debian wallpaper packages, fake ones are such crops re-synthesised by small generators of
// several families (generator_family.h), so a detector can be trained and tested offline and
// tested on generator families it did not see.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "forensight/data/generator_family.h"
#include "forensight/data/photo_sets.h"

namespace forensight::data {

// How crops are taken from a photograph, for both classes alike (so that they differ only in the
// generator).
enum class SynthCropMode {
  kResize,  // from the photograph reduced on decode to a short side of about max(size, 1024) px
  kNative,  // at the photograph's own resolution: sensor noise, demosaicing and JPEG grid intact
};

struct SynthOptions {
  std::string out_dir;  // receives 0_real/, 1_fake/ and train.csv
  int count = 400;      // images in total, half per class; >= 2
  int size_px = 256;    // side of each square image, 32..2048
  uint64_t seed = 0;    // crops, generator weights, fitting and noise all derive from it
  int quality = 90;     // JPEG quality of both classes, 1..100
  // `--photos` entries (photo_sets.h): built-in package names, "all", NAME=DIR or DIR.
  std::vector<std::string> photos = {"mate-backgrounds"};
  // The fake images' generators, in turn: fake i comes from families[i % families.size()].
  std::vector<GeneratorFamily> families = {GeneratorFamily::kTransposedConv};
  SynthCropMode crop_mode = SynthCropMode::kResize;
  // Decoded photographs are held in memory while crops are taken; native mode holds them at full
  // size (both built-in sets: ~0.5 GiB). A run that would exceed this is refused, not swapped.
  int64_t photo_memory_limit_bytes = int64_t{8} << 30;
  int fit_steps = 40;    // Adam steps fitting each generator to reconstruct photo crops
  int fit_batch = 6;     // crops per fitting step
  int fit_crop_px = 96;  // side of the fitting crops, a multiple of 4
};

struct SynthFamilyStats {
  std::string family;
  int64_t images = 0;
  double fit_loss = 0.0;  // L1 reconstruction loss of the last fitting step, in [-1, 1] units
  double fit_seconds = 0.0;
  double synth_seconds = 0.0;  // re-synthesising and encoding its images
};

struct SynthStats {
  int64_t real = 0;
  int64_t fake = 0;
  double fit_loss = 0.0;  // the largest of the families' final fitting losses
  double seconds = 0.0;
  std::vector<SynthFamilyStats> families;  // in the order of SynthOptions::families
  std::string csv_path;
};

// Writes out_dir/0_real/real_NNNNN.jpg, out_dir/1_fake/fake_NNNNN.jpg and out_dir/train.csv (the
// Kaggle layout: unnamed index column, file_name relative to out_dir, label, plus `source`: the
// photograph set of a real image, the generator family of a fake one). Real images take the photo
// sets in turn, fakes the families in turn, each family cycling through the photo sets.
// Deterministic for a given seed on one machine.
SynthStats synthesize_dataset(const SynthOptions& options);

}  // namespace forensight::data
