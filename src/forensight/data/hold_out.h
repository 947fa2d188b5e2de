// Leave-one-source-out splits, the honest test of a detector (UnivFD, Ojha et al., CVPR 2023;
// issue #17): new generators appear every month, so what matters is the accuracy on a generator
// family the model never saw. One source (the CSV's `source` column) is kept out of training and
// validation entirely and tested on, beside the held-in families' own test images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "forensight/data/dataset.h"
#include "forensight/data/split.h"

namespace forensight::data {

// The distinct non-empty `source` names of the dataset, sorted.
std::vector<std::string> dataset_sources(const Dataset& dataset);

// The sources all of whose samples are AI-generated (the generator families), sorted.
std::vector<std::string> generator_sources(const Dataset& dataset);

// Splits `dataset` holding `source` out: the samples of every other source (and those without
// one) are split by `spec` and `seed` exactly as make_split splits a dataset of only them
// (stratified, groups whole; fractions and counts refer to them), and the test split then also
// gets every sample of `source`. So the test split holds the held-out family, the held-in
// families' test images and the real test images both are judged against. Throws Error naming
// the sources found when `source` is not one of them, and when the training split would lack a
// class (e.g. the only generator family held out).
Split make_hold_out_split(const Dataset& dataset, const SplitSpec& spec, uint64_t seed,
                          const std::string& source);

}  // namespace forensight::data
