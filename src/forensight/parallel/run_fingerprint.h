// What must agree across the ranks of a data-parallel job before they train together: the options
// that decide what is computed, the model (its tensors and initial weights) and the data (its
// samples and split). Each rank describes its own; Distribution::check_ranks_agree all-gathers them
// right after the rendezvous and stops every rank, naming who differs and how. Without it a rank
// with another learning rate, --init file or dataset trains on silently: the gradient all-reduce
// only needs the shapes to match, and attach() overwrites a different initial model with rank 0's.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace forensight::parallel {

// Each part is a flat JSON object, compared key by key.
struct RunFingerprint {
  nlohmann::json config = nlohmann::json::object();   // the options every rank must share
  nlohmann::json model = nlohmann::json::object();    // model_fingerprint()
  nlohmann::json dataset = nlohmann::json::object();  // the samples and the split

  std::string to_string() const;  // compact JSON: what the ranks exchange
  // Throws Error naming `rank` when `text` is not a fingerprint (another build of Forensight).
  static RunFingerprint from_string(const std::string& text, int rank);
};

// The model's parameters and buffers: how many tensors and values, a CRC-32 of their names,
// dtypes and shapes (the architecture), and a CRC-32 of their bytes (the initial weights). Reads
// every byte on the CPU: about 0.2-0.3 s per 100 M float parameters (zlib's CRC-32 at 1.4-2.2
// GB/s, core/crc32.h).
nlohmann::json model_fingerprint(torch::nn::Module& model);

// One sentence per rank that differs from rank 0 (by_rank[0]), naming each part that differs with
// its first differences: "rank 2 differs from rank 0 in its config (lr: 0.05 on rank 0, 0.1 on
// rank 2)". Empty when every rank agrees with rank 0.
std::vector<std::string> fingerprint_differences(const std::vector<RunFingerprint>& by_rank);

}  // namespace forensight::parallel
