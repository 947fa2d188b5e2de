// "forensight data inspect": what a dataset holds before training on it — images per class and
// per source (generator family or photograph set, when the manifest names them), formats, the
// spread of image sizes, files that fail to decode (and why), exact duplicates.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "forensight/data/dataset.h"

namespace forensight::data {

struct InspectOptions {
  int threads = 2;  // decoding threads, >= 1
};

struct SideStats {
  int min_px = 0;
  int median_px = 0;
  int max_px = 0;
};

struct CorruptFile {
  std::string path;
  std::string reason;
};

struct InspectReport {
  std::string root;
  bool labelled = true;
  int64_t images = 0;                // files listed
  int64_t readable = 0;              // files that decode
  std::map<int, int64_t> per_label;  // label -> files listed with it
  // source -> label -> files listed with both; empty when no sample names its source
  std::map<std::string, std::map<int, int64_t>> per_source;
  std::map<std::string, int64_t> formats;  // "jpeg", "png", "webp" -> readable files
  SideStats width;                         // of readable files, as declared by their headers
  SideStats height;
  std::vector<CorruptFile> corrupt;                  // in dataset order
  std::vector<std::vector<std::string>> duplicates;  // groups of byte-identical files (>= 2)

  nlohmann::json to_json() const;
  std::string to_table() const;  // human-readable, for stdout
};

// Reads every file once (FNV-1a 64 of its bytes for duplicates) and decodes it fully — a JPEG at
// its smallest DCT scale, which still reads every entropy-coded byte, so truncation is caught.
InspectReport inspect_dataset(const Dataset& dataset, const InspectOptions& options = {});

}  // namespace forensight::data
