// A safetensors file as `forensight import` and `train --init` read it: the format sniffed from its
// first bytes, then read_safetensors (length, JSON header, dtypes, shapes, offsets). Every tensor
// that loads must own exactly shape x dtype bytes, which is what the offsets checks promise.
#include <cstdint>

#include "forensight/core/error.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/torch_save.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("weights.safetensors");
  const std::string& path = file.write(data, size);
  try {
    (void)forensight::models::detect_weight_file_format(path);
    forensight::models::SafetensorsFile weights = forensight::models::read_safetensors(path);
    for (const auto& [name, tensor] : weights.tensors) {
      if (!tensor.is_contiguous() || tensor.device() != torch::kCPU) std::abort();
      // Reading every byte: a tensor whose storage is shorter than its shape faults under ASan.
      if (tensor.numel() > 0) (void)tensor.sum().item<double>();
    }
  } catch (const forensight::Error&) {
  }
  return 0;
}
