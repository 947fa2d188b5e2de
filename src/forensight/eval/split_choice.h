// Which images of a dataset a command evaluates: a split of the run that trained the checkpoint
// (its split.json sits in RUN_DIR next to RUN_DIR/checkpoints/), or all of them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "forensight/data/dataset.h"

namespace forensight::eval {

struct SplitChoice {
  std::string split = "auto";  // auto (test when a split file is found, else all), test, val,
                               // train, all
  std::string split_file;      // "" = the one next to the checkpoint's run, when there is one
};

// Indices into dataset.samples; empty means all images. Throws Error naming the split file when a
// named split is asked for and there is no split file, or the split is empty.
std::vector<int64_t> choose_split(const SplitChoice& choice, const std::string& checkpoint_path,
                                  const data::Dataset& dataset);

}  // namespace forensight::eval
