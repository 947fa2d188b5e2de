// Train/validation/test splits: deterministic from a seed, stratified by label, each `group` kept
// whole in one split, and saved as JSON in the run directory (indices plus paths) so a resumed or
// reproduced run sees exactly the same samples — and refuses a dataset that changed underneath.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "forensight/data/dataset.h"

namespace forensight::data {

constexpr std::array<const char*, 3> kSplitNames{"train", "val", "test"};

// "50000/15000/15000" (sample counts) or "0.8/0.1/0.1" (fractions; any part with a '.' makes the
// spec fractional). One to three parts: train[/val[/test]]; missing parts are 0. Counts may sum to
// less than the dataset (the rest is unused), fractions to at most 1.
struct SplitSpec {
  std::string text;               // as given
  bool fractions = false;         // parts are fractions of the dataset, not counts
  std::array<double, 3> parts{};  // train, val, test
};

// Throws Error with the expected forms for anything else (negative, empty, non-numeric parts,
// fractions summing over 1, more than three parts).
SplitSpec parse_split_spec(const std::string& text);

struct Split {
  std::string spec;  // the spec text it was made from
  uint64_t seed = 0;
  std::array<std::vector<int64_t>, 3> indices;  // train, val, test: sorted indices into samples

  const std::vector<int64_t>& train() const { return indices[0]; }
  const std::vector<int64_t>& val() const { return indices[1]; }
  const std::vector<int64_t>& test() const { return indices[2]; }
};

// Counts per split from the spec for a dataset of `size` samples; throws Error when the counts ask
// for more samples than there are, saying how many there are and what to try.
std::array<int64_t, 3> split_counts(const SplitSpec& spec, int64_t size);

// Stratified by label (each split gets each label in the dataset's proportion, up to rounding),
// groups kept whole (then counts are met as closely as whole groups allow), deterministic in seed.
Split make_split(const Dataset& dataset, const SplitSpec& spec, uint64_t seed);

// JSON: spec, seed, dataset size and root, per split the indices and the sample paths (relative
// to the dataset's folder, so the data may move), and a CRC-32 of that content. Written
// atomically (temporary file, fsync, rename); a full disk throws Error naming the file.
void save_split(const Split& split, const Dataset& dataset, const std::string& path);
// Loads a saved split and checks it against `dataset`: same size and the same path at every index;
// throws Error naming the first mismatch otherwise, and naming the file when it is cut short or
// its content fails the CRC-32. A file from before the CRC is read with a warning.
Split load_split(const std::string& path, const Dataset& dataset);

// What identifies this split of this dataset, for the ranks of a job to compare
// (parallel/run_fingerprint.h): the sample count, a CRC-32 of every sample's path (relative to the
// dataset's folder, as the split file saves it, so that nodes may mount the data elsewhere),
// label, group and source, and per split its size and a CRC-32 of its indices. Reads no image.
nlohmann::json split_fingerprint(const Split& split, const Dataset& dataset);

}  // namespace forensight::data
