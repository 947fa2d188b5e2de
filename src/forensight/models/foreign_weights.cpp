// Name maps from timm's and Hugging Face's ViTs to torchvision's. The three ViTs compute the same
// function (pre-norm blocks, exact GELU, the class token's final features into a linear head):
// only names differ, and HF keeps query, key and value as three Linears where torchvision fuses
// them into in_proj (rows q, k, v), as timm's qkv does. HF's LayerNorm epsilon is 1e-12 where ours
// is 1e-6: on features of unit scale that moves a logit by ~1e-6.
#include "forensight/models/foreign_weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <regex>

#include "forensight/core/error.h"
#include "forensight/models/shape.h"

namespace forensight::models {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Removes a prefix every name carries (a wrapper around the whole model).
void strip_wrappers(std::map<std::string, torch::Tensor>& tensors,
                    std::vector<std::string>& notes) {
  for (bool changed = true; changed && !tensors.empty();) {
    changed = false;
    for (const char* prefix : {"module.", "_orig_mod.", "model."}) {
      bool all = true;
      for (const auto& [name, tensor] : tensors) all = all && starts_with(name, prefix);
      if (!all) continue;
      std::map<std::string, torch::Tensor> stripped;
      for (auto& [name, tensor] : tensors) stripped[name.substr(std::strlen(prefix))] = tensor;
      tensors = std::move(stripped);
      notes.push_back(fmt::format("removed the '{}' prefix of every name", prefix));
      changed = true;
    }
  }
}

[[noreturn]] void refuse_names(const std::string& origin, const std::string& layout,
                               const std::vector<std::string>& names,
                               const std::map<std::string, torch::Tensor>& tensors,
                               const std::string& expected) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < names.size() && i < 12; ++i)
    shown.push_back(fmt::format("{} {}", names[i], format_shape(tensors.at(names[i]).sizes())));
  fail("'{}' ({}): {} tensor names not understood: {}{}; expected {}", origin, layout, names.size(),
       fmt::join(shown, ", "), names.size() > shown.size() ? ", ..." : "", expected);
}

// timm VisionTransformer -> torchvision VisionTransformer.
std::map<std::string, torch::Tensor> rename_timm_vit(std::map<std::string, torch::Tensor> in,
                                                     const std::string& origin) {
  static const std::regex kBlock(R"(^blocks\.(\d+)\.(.*)$)");
  static const std::map<std::string, std::string> kTop = {
      {"cls_token", "class_token"},
      {"pos_embed", "encoder.pos_embedding"},
      {"patch_embed.proj.weight", "conv_proj.weight"},
      {"patch_embed.proj.bias", "conv_proj.bias"},
      {"norm.weight", "encoder.ln.weight"},
      {"norm.bias", "encoder.ln.bias"},
      {"head.weight", "heads.head.weight"},
      {"head.bias", "heads.head.bias"},
  };
  static const std::map<std::string, std::string> kInBlock = {
      {"norm1.weight", "ln_1.weight"},
      {"norm1.bias", "ln_1.bias"},
      {"norm2.weight", "ln_2.weight"},
      {"norm2.bias", "ln_2.bias"},
      {"attn.qkv.weight", "self_attention.in_proj_weight"},
      {"attn.qkv.bias", "self_attention.in_proj_bias"},
      {"attn.proj.weight", "self_attention.out_proj.weight"},
      {"attn.proj.bias", "self_attention.out_proj.bias"},
      {"mlp.fc1.weight", "mlp.0.weight"},
      {"mlp.fc1.bias", "mlp.0.bias"},
      {"mlp.fc2.weight", "mlp.3.weight"},
      {"mlp.fc2.bias", "mlp.3.bias"},
  };
  std::map<std::string, torch::Tensor> out;
  std::vector<std::string> unknown;
  for (auto& [name, tensor] : in) {
    std::smatch m;
    if (auto top = kTop.find(name); top != kTop.end()) {
      out[top->second] = tensor;
    } else if (std::regex_match(name, m, kBlock) && kInBlock.count(m[2].str())) {
      out[fmt::format("encoder.layers.encoder_layer_{}.{}", m[1].str(), kInBlock.at(m[2].str()))] =
          tensor;
    } else {
      unknown.push_back(name);
    }
  }
  if (!unknown.empty())
    refuse_names(origin, "timm ViT", unknown, in,
                 "a timm VisionTransformer with a class token and a linear head (cls_token, "
                 "pos_embed, patch_embed.proj, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,"
                 "mlp.fc2}, norm, head); layer scale (ls1/ls2), register tokens, fc_norm and "
                 "norm_pre have no counterpart");
  return out;
}

// Hugging Face ViTForImageClassification (4.x or 5.x names) -> torchvision VisionTransformer.
std::map<std::string, torch::Tensor> rename_hf_vit(std::map<std::string, torch::Tensor> in,
                                                   const std::string& origin, std::string& layout,
                                                   std::vector<std::string>& notes) {
  static const std::regex kLayer4(R"(^vit\.encoder\.layer\.(\d+)\.(.*)$)");
  static const std::regex kLayer5(R"(^vit\.layers\.(\d+)\.(.*)$)");
  static const std::map<std::string, std::string> kTop = {
      {"vit.embeddings.cls_token", "class_token"},
      {"vit.embeddings.position_embeddings", "encoder.pos_embedding"},
      {"vit.embeddings.patch_embeddings.projection.weight", "conv_proj.weight"},
      {"vit.embeddings.patch_embeddings.projection.bias", "conv_proj.bias"},
      {"vit.layernorm.weight", "encoder.ln.weight"},
      {"vit.layernorm.bias", "encoder.ln.bias"},
      {"classifier.weight", "heads.head.weight"},
      {"classifier.bias", "heads.head.bias"},
  };
  // Per layer: the HF module (4.x, then 5.x name) -> torchvision's; "q"/"k"/"v" are fused below.
  static const std::map<std::string, std::string> kInLayer = {
      {"attention.attention.query", "q"},
      {"attention.attention.key", "k"},
      {"attention.attention.value", "v"},
      {"attention.q_proj", "q"},
      {"attention.k_proj", "k"},
      {"attention.v_proj", "v"},
      {"attention.output.dense", "self_attention.out_proj"},
      {"attention.o_proj", "self_attention.out_proj"},
      {"intermediate.dense", "mlp.0"},
      {"mlp.fc1", "mlp.0"},
      {"output.dense", "mlp.3"},
      {"mlp.fc2", "mlp.3"},
      {"layernorm_before", "ln_1"},
      {"layernorm_after", "ln_2"},
  };
  std::map<std::string, torch::Tensor> out;
  std::map<std::string, std::map<std::string, torch::Tensor>> qkv;  // layer prefix -> "q.weight"
  std::vector<std::string> unknown;
  bool names4 = false, names5 = false;
  for (auto& [name, tensor] : in) {
    std::smatch m;
    if (auto top = kTop.find(name); top != kTop.end()) {
      out[top->second] = tensor;
      continue;
    }
    if (starts_with(name, "vit.pooler.") || name == "vit.embeddings.mask_token") {
      notes.push_back(fmt::format("dropped {} (unused by the classifier)", name));
      continue;
    }
    const bool layer4 = std::regex_match(name, m, kLayer4);
    if (!layer4 && !std::regex_match(name, m, kLayer5)) {
      unknown.push_back(name);
      continue;
    }
    (layer4 ? names4 : names5) = true;
    const std::string rest = m[2].str();
    const size_t dot = rest.rfind('.');
    const std::string module = dot == std::string::npos ? rest : rest.substr(0, dot);
    const std::string kind = dot == std::string::npos ? "" : rest.substr(dot + 1);
    auto mapped = kInLayer.find(module);
    if (mapped == kInLayer.end() || (kind != "weight" && kind != "bias")) {
      unknown.push_back(name);
      continue;
    }
    const std::string prefix = fmt::format("encoder.layers.encoder_layer_{}.", m[1].str());
    if (mapped->second.size() == 1)
      qkv[prefix][mapped->second + "." + kind] = tensor;
    else
      out[prefix + mapped->second + "." + kind] = tensor;
  }
  if (!unknown.empty())
    refuse_names(
        origin, "Hugging Face ViT", unknown, in,
        "ViTForImageClassification's names: vit.embeddings.{cls_token,position_embeddings,"
        "patch_embeddings.projection}, vit.encoder.layer.N.{attention.attention.{query,key,"
        "value},attention.output.dense,intermediate.dense,output.dense,layernorm_before,"
        "layernorm_after} (transformers 4.x) or vit.layers.N.{attention.{q,k,v,o}_proj,"
        "mlp.fc1,mlp.fc2,layernorm_before,layernorm_after} (5.x), vit.layernorm, "
        "classifier");
  FS_CHECK(!(names4 && names5),
           "'{}' mixes transformers 4.x (vit.encoder.layer.N) and 5.x (vit.layers.N) names",
           origin);
  layout = names5 ? "Hugging Face ViT (transformers 5.x names)"
                  : "Hugging Face ViT (transformers 4.x names)";
  for (auto& [prefix, parts] : qkv) {
    std::vector<std::string> absent;
    for (const char* part : {"q.weight", "k.weight", "v.weight"})
      if (!parts.count(part)) absent.push_back(part);
    FS_CHECK(absent.empty(), "'{}': layer {} lacks its attention {} projection weights", origin,
             prefix, fmt::join(absent, ", "));
    out[prefix + "self_attention.in_proj_weight"] =
        torch::cat({parts["q.weight"], parts["k.weight"], parts["v.weight"]}, 0);  // (3D, D)
    if (parts.count("q.bias") && parts.count("k.bias") && parts.count("v.bias")) {
      out[prefix + "self_attention.in_proj_bias"] =
          torch::cat({parts["q.bias"], parts["k.bias"], parts["v.bias"]}, 0);  // (3D)
    } else {
      // qkv_bias=False: a zero bias computes the same.
      out[prefix + "self_attention.in_proj_bias"] =
          torch::zeros({3 * parts["q.weight"].size(0)}, parts["q.weight"].options());
      notes.push_back(
          fmt::format("{}: no query/key/value biases (qkv_bias=False), zeros used", prefix));
    }
  }
  return out;
}

}  // namespace

std::string list_tensors(const std::map<std::string, torch::Tensor>& tensors, size_t limit) {
  std::vector<std::string> shown;
  for (const auto& [name, tensor] : tensors) {
    if (shown.size() == limit) {
      shown.push_back(fmt::format("... ({} in all)", tensors.size()));
      break;
    }
    shown.push_back(fmt::format("{} {}", name, format_shape(tensor.sizes())));
  }
  return fmt::format("{}", fmt::join(shown, ", "));
}

ForeignWeights to_torchvision_names(std::map<std::string, torch::Tensor> tensors,
                                    const std::string& origin) {
  ForeignWeights out;
  FS_CHECK(!tensors.empty(), "'{}' holds no tensors", origin);
  strip_wrappers(tensors, out.notes);
  auto has = [&](const std::string& name) { return tensors.count(name) > 0; };
  auto has_prefix = [&](const std::string& prefix) {
    auto it = tensors.lower_bound(prefix);
    return it != tensors.end() && starts_with(it->first, prefix);
  };
  if (has_prefix("vit.embeddings.") || has_prefix("vit.encoder.") || has_prefix("vit.layers.")) {
    out.family = "vit";
    out.normalization = "half";
    out.tensors = rename_hf_vit(std::move(tensors), origin, out.layout, out.notes);
  } else if (has("cls_token") || (has_prefix("blocks.") && has_prefix("patch_embed."))) {
    out.family = "vit";
    out.layout = "timm ViT";
    out.normalization = "half";
    out.tensors = rename_timm_vit(std::move(tensors), origin);
  } else if (has("class_token") || has("conv_proj.weight")) {
    out.family = "vit";
    out.layout = "torchvision ViT";
    out.normalization = "imagenet";
    out.tensors = std::move(tensors);
  } else if (has("layer1.0.conv1.weight") || has("conv1.weight")) {
    out.family = "resnet";
    out.layout = "torchvision ResNet";
    out.normalization = "imagenet";
    out.tensors = std::move(tensors);
  } else {
    fail(
        "'{}': the tensor names match no layout Forensight imports; found {}. Expected a "
        "torchvision or timm ResNet18 (conv1, bn1, layer1.0.conv1, ..., fc), a torchvision ViT "
        "(class_token, conv_proj, encoder.layers.encoder_layer_N, heads.head), a timm ViT "
        "(cls_token, patch_embed, blocks.N, head) or a Hugging Face ViTForImageClassification "
        "(vit.embeddings, vit.encoder.layer.N or vit.layers.N, classifier)",
        origin, list_tensors(tensors));
  }
  return out;
}

VitShape vit_shape(const std::map<std::string, torch::Tensor>& tensors, const std::string& origin) {
  auto get = [&](const std::string& name, int64_t dims) -> const torch::Tensor& {
    auto found = tensors.find(name);
    FS_CHECK(found != tensors.end(), "'{}': a ViT needs {}, which is missing; found {}", origin,
             name, list_tensors(tensors));
    FS_CHECK(found->second.dim() == dims, "'{}': {} is {}, expected {} dimensions", origin, name,
             format_shape(found->second.sizes()), dims);
    return found->second;
  };
  VitShape s;
  const torch::Tensor& patch = get("conv_proj.weight", 4);  // (D, 3, P, P)
  s.hidden_dim = patch.size(0);
  s.patch_size_px = patch.size(2);
  FS_CHECK(patch.size(1) == 3 && patch.size(2) == patch.size(3),
           "'{}': conv_proj.weight is {}, expected (D, 3, P, P) square patches of RGB", origin,
           format_shape(patch.sizes()));
  const torch::Tensor& pos = get("encoder.pos_embedding", 3);  // (1, 1 + g*g, D)
  const auto grid =
      static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(pos.size(1) - 1))));
  FS_CHECK(pos.size(0) == 1 && pos.size(2) == s.hidden_dim && grid * grid + 1 == pos.size(1),
           "'{}': encoder.pos_embedding is {}, expected (1, 1 + g*g, {}): a class token and a "
           "square grid of patches",
           origin, format_shape(pos.sizes()), s.hidden_dim);
  s.grid_size = grid;
  for (const auto& [name, tensor] : tensors) {
    static const std::regex kLayer(R"(^encoder\.layers\.encoder_layer_(\d+)\..*)");
    std::smatch m;
    if (std::regex_match(name, m, kLayer))
      s.num_layers = std::max<int64_t>(s.num_layers, std::stoll(m[1].str()) + 1);
  }
  FS_CHECK(s.num_layers > 0, "'{}': a ViT without encoder layers; found {}", origin,
           list_tensors(tensors));
  s.mlp_dim = get("encoder.layers.encoder_layer_0.mlp.0.weight", 2).size(0);
  return s;
}

}  // namespace forensight::models
