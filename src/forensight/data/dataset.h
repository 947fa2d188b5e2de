// A labelled (or unlabelled) list of image files: from class folders or from a CSV manifest in the
// Kaggle "Detect AI vs. Human-Generated Images" layout. Only paths and labels; no pixels.
#pragma once
#include <string>
#include <vector>

namespace forensight::data {

constexpr int kLabelReal = 0;
constexpr int kLabelFake = 1;      // AI-generated
constexpr int kLabelUnknown = -1;  // an unlabelled set to predict

struct Sample {
  std::string path;  // absolute, or relative to the process's working directory
  int label = kLabelUnknown;
  std::string group;   // optional: samples of one group stay in one split
  std::string source;  // optional: generator or origin name, for per-source metrics
};

struct Dataset {
  std::string root;             // the folder or CSV file it came from
  std::vector<Sample> samples;  // in a deterministic order (sorted paths for folders, CSV order)
  bool labelled = true;         // false for a CSV with an `id` column only

  size_t size() const { return samples.size(); }
};

// Loads PATH: a directory (one subfolder per class, see below) or a .csv manifest. Class folder
// names are matched case-insensitively: 0_real/1_fake, real/fake, human/ai, nature/ai. Throws
// Error naming the path and what was expected when it is neither.
Dataset load_dataset(const std::string& path);

}  // namespace forensight::data
