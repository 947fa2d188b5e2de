// State dicts of other ecosystems, renamed to torchvision's names (the ones Forensight's models
// use): torchvision and timm ResNets (the same names), torchvision ViTs, timm ViTs (fused qkv) and
// Hugging Face transformers' ViTForImageClassification in both the 4.x layout its save_pretrained
// writes (vit.encoder.layer.N.attention.attention.query) and the 5.x one of its modules'
// state_dict() (vit.layers.N.attention.q_proj). Anything else is refused with what was found.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace forensight::models {

struct ForeignWeights {
  std::map<std::string, torch::Tensor> tensors;  // torchvision names
  std::string layout;         // "torchvision ResNet", "timm ViT", "Hugging Face ViT (4.x names)"
  std::string family;         // "resnet" or "vit"
  std::string normalization;  // the layout's own: imagenet (torchvision), half (timm, HF ViTs)
  std::vector<std::string> notes;  // what the renaming dropped or adapted, for the log
};

// Strips whole-file wrappers (DataParallel's "module.", torch.compile's "_orig_mod.", a Lightning
// module's "model."), recognises the layout and renames. origin names the file in errors, which
// list the names and shapes found.
ForeignWeights to_torchvision_names(std::map<std::string, torch::Tensor> tensors,
                                    const std::string& origin);

// A ViT's architecture read off its torchvision-named tensors. Error naming origin when a shape
// does not fit a ViT with a class token and square patches.
struct VitShape {
  int64_t hidden_dim = 0;
  int64_t mlp_dim = 0;
  int64_t num_layers = 0;
  int64_t patch_size_px = 0;
  int64_t grid_size = 0;  // patches per side of the position embeddings
};
VitShape vit_shape(const std::map<std::string, torch::Tensor>& tensors, const std::string& origin);

// Up to `limit` "name (shape)" entries, for messages.
std::string list_tensors(const std::map<std::string, torch::Tensor>& tensors, size_t limit = 12);

}  // namespace forensight::models
