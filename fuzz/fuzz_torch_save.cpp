// A torch.save zip as `forensight import` and `train --init` read it (models/torch_save.h): the
// zip directory, data.pkl through Forensight's own small pickle machine, the storages it names,
// and the state dict found in it. Nothing in the file may run, crash or read outside its records.
#include <cstdint>

#include "forensight/core/error.h"
#include "forensight/models/torch_save.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static forensight::fuzz::InputFile file("weights.pt");
  const std::string& path = file.write(data, size);
  try {
    (void)forensight::models::detect_weight_file_format(path);
    forensight::models::TorchStateDict dict = forensight::models::read_torch_save(path);
    for (const auto& [name, tensor] : dict.tensors)
      if (tensor.numel() > 0 && tensor.is_floating_point()) (void)tensor.sum().item<double>();
  } catch (const forensight::Error&) {
  }
  return 0;
}
