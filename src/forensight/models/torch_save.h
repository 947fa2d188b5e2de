// Reads the tensors of a file written by Python's torch.save (the zip format of PyTorch >= 1.6:
// data.pkl plus one record per storage) without Python. LibTorch's own unpickler turns the
// OrderedDict every state_dict() is into None, so a small pickle machine here reads it: it knows
// the few globals a state dict uses and keeps every other object opaque, so nothing in the file
// is ever executed (as torch.load(weights_only=True)).
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

namespace forensight::models {

// What a weights file is, judged by its first bytes (never by its extension).
enum class WeightFileFormat {
  kSafetensors,      // huggingface/safetensors
  kTorchSave,        // torch.save's zip format (.pt, .pth, .bin, .ckpt)
  kTorchSaveLegacy,  // torch.save(_use_new_zipfile_serialization=False): only Python reads it
  kLibTorchArchive,  // a LibTorch/TorchScript archive: a Forensight checkpoint or torch.jit.save
  kUnknown,
};
// Error when the file is missing or unreadable.
WeightFileFormat detect_weight_file_format(const std::filesystem::path& path);

struct TorchStateDict {
  std::map<std::string, torch::Tensor> tensors;  // CPU, owning their memory
  std::string key;  // where it sat in the file: "" (the file is the dict) or e.g. "state_dict"
};

// The state dict in a torch.save file: the saved object itself when it is a dict of tensors, else
// the dict of tensors under one of its keys (state_dict, model_state_dict, model, module, net,
// network, weights, or the only one). Error naming the file and what it holds otherwise, and for
// the legacy format (convert it with scripts/export_weights.py).
TorchStateDict read_torch_save(const std::filesystem::path& path);

}  // namespace forensight::models
