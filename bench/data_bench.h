// `forensight bench data`: throughput of JPEG -> normalised 224 batches through the parallel loader
// and from the decoded cache, measured side by side with the seed study's Python pipeline and
// libjpeg-turbo's raw scaled decode, so every figure comes with the ratio to its peer.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace forensight::bench {

struct DataBenchOptions {
  std::string work_dir = "runs/bench-data";  // generated JPEGs and the decoded cache live here
  int images = 512;                          // 700x700 q90 JPEGs in the set, >= batch_size
  int max_workers = 0;                       // highest worker count; 0 = the machine's cores
  int batch_size = 32;                       // for ours and Python alike
  double min_seconds = 3.0;  // each measurement runs whole epochs at least this long
  std::string python;        // interpreter for the peer; "" = FORENSIGHT_PYTHON
  bool skip_python = false;  // measure ours only (no peer ratios)
};

// Runs the benchmark, prints a table on stdout and returns every figure as JSON. Throws Error when
// a correctness check (ours vs PIL/torchvision on the same images) fails before timing.
nlohmann::json run_data_bench(const DataBenchOptions& options);

}  // namespace forensight::bench
