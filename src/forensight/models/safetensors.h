// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw little-endian data.
// Files come from outside, so every length and offset is checked before it is used.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace forensight::models {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;  // CPU, contiguous, owning their memory
  std::map<std::string, std::string> metadata;   // the optional "__metadata__" object
};

// Reads the whole file. A malformed file (truncated, bad JSON, unknown dtype, offsets out of
// bounds or not matching the shape) -> Error naming the file and the problem.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

// Writes tensors (any device; copied to CPU contiguous) atomically: a temporary file renamed into
// place, so a crash mid-write never leaves a half checkpoint under the final name.
void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// "F32", "BF16", ... for a torch dtype; Error for one safetensors cannot hold.
std::string safetensors_dtype_name(torch::ScalarType dtype);

}  // namespace forensight::models
