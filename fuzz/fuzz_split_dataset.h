// The dataset the split fuzzer checks files against; scripts/make_fuzz_seeds.sh writes the seed
// splits for the same one (fuzz_seed_tool), so valid seeds load.
#pragma once
#include <string>

#include "forensight/data/dataset.h"

namespace forensight::fuzz {

inline data::Dataset split_dataset() {
  data::Dataset d;
  d.root = "/fuzz/data";
  for (int i = 0; i < 12; ++i) {
    data::Sample s;
    s.label = i % 2;
    s.path = d.root + (s.label == 1 ? "/1_fake/" : "/0_real/") + std::to_string(i) + ".png";
    s.group = "g" + std::to_string(i / 3);
    d.samples.push_back(s);
  }
  return d;
}

}  // namespace forensight::fuzz
