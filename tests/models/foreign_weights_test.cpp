// Other ecosystems' names: timm's and Hugging Face's ViTs (4.x and 5.x names) renamed to
// torchvision's give back the very tensors a torchvision-named model holds; wrappers are stripped;
// what is not understood is refused with its names and shapes.
#include "forensight/models/foreign_weights.h"

#include <gtest/gtest.h>

#include "../support/error_of.h"
#include "forensight/models/vit.h"
#include "forensight/models/weights.h"

namespace forensight::models {
namespace {

using Tensors = std::map<std::string, torch::Tensor>;

VitOptions tiny_vit() {
  VitOptions o;
  o.image_size_px = 32;
  o.num_layers = 2;
  o.num_heads = 2;
  o.hidden_dim = 16;
  o.mlp_dim = 32;
  return o;
}

Tensors torchvision_tensors() {
  torch::manual_seed(0);
  Tensors out;
  for (const auto& [name, tensor] : state_dict(*VisionTransformer(tiny_vit())))
    out[name] = torch::randn_like(tensor);  // no zero-initialised tensor hides a swap
  return out;
}

// The same tensors under transformers' names: 4.x (save_pretrained) or 5.x (module state_dict).
Tensors to_hf(const Tensors& tv, bool names5, bool qkv_bias = true) {
  Tensors hf = {{"vit.embeddings.cls_token", tv.at("class_token")},
                {"vit.embeddings.position_embeddings", tv.at("encoder.pos_embedding")},
                {"vit.embeddings.patch_embeddings.projection.weight", tv.at("conv_proj.weight")},
                {"vit.embeddings.patch_embeddings.projection.bias", tv.at("conv_proj.bias")},
                {"vit.layernorm.weight", tv.at("encoder.ln.weight")},
                {"vit.layernorm.bias", tv.at("encoder.ln.bias")},
                {"classifier.weight", tv.at("heads.head.weight")},
                {"classifier.bias", tv.at("heads.head.bias")}};
  for (int i = 0; i < 2; ++i) {
    const std::string t = "encoder.layers.encoder_layer_" + std::to_string(i) + ".";
    const std::string h = (names5 ? "vit.layers." : "vit.encoder.layer.") + std::to_string(i) + ".";
    const auto w = tv.at(t + "self_attention.in_proj_weight").chunk(3, 0);
    const auto b = tv.at(t + "self_attention.in_proj_bias").chunk(3, 0);
    const char* q4[] = {"attention.attention.query", "attention.attention.key",
                        "attention.attention.value"};
    const char* q5[] = {"attention.q_proj", "attention.k_proj", "attention.v_proj"};
    for (int p = 0; p < 3; ++p) {
      hf[h + (names5 ? q5[p] : q4[p]) + ".weight"] = w[p];
      if (qkv_bias) hf[h + (names5 ? q5[p] : q4[p]) + ".bias"] = b[p];
    }
    const std::string out = names5 ? "attention.o_proj" : "attention.output.dense";
    const std::string fc1 = names5 ? "mlp.fc1" : "intermediate.dense";
    const std::string fc2 = names5 ? "mlp.fc2" : "output.dense";
    for (const char* kind : {"weight", "bias"}) {
      hf[h + out + "." + kind] = tv.at(t + "self_attention.out_proj." + kind);
      hf[h + fc1 + "." + kind] = tv.at(t + "mlp.0." + kind);
      hf[h + fc2 + "." + kind] = tv.at(t + "mlp.3." + kind);
      hf[h + "layernorm_before." + kind] = tv.at(t + "ln_1." + kind);
      hf[h + "layernorm_after." + kind] = tv.at(t + "ln_2." + kind);
    }
  }
  return hf;
}

void expect_equal(const Tensors& expected, const Tensors& got) {
  ASSERT_EQ(expected.size(), got.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_TRUE(torch::equal(tensor, got.at(name))) << name;
  }
}

TEST(ForeignWeightsTest, HuggingFaceNamesOfBothVersionsGiveTheTorchvisionTensors) {
  const Tensors tv = torchvision_tensors();
  for (bool names5 : {false, true}) {
    ForeignWeights w = to_torchvision_names(to_hf(tv, names5), "hf");
    EXPECT_EQ(w.layout, names5 ? "Hugging Face ViT (transformers 5.x names)"
                               : "Hugging Face ViT (transformers 4.x names)");
    EXPECT_EQ(w.normalization, "half");
    expect_equal(tv, w.tensors);
  }
}

TEST(ForeignWeightsTest, HuggingFaceWithoutQkvBiasGetsZeroBiases) {
  const ForeignWeights w = to_torchvision_names(to_hf(torchvision_tensors(), true, false), "hf");
  EXPECT_TRUE(w.tensors.at("encoder.layers.encoder_layer_1.self_attention.in_proj_bias")
                  .eq(0)
                  .all()
                  .item<bool>());
  EXPECT_FALSE(w.notes.empty());
}

TEST(ForeignWeightsTest, DataParallelAndCompileWrappersAreStripped) {
  Tensors wrapped;
  for (const auto& [name, tensor] : torchvision_tensors())
    wrapped["model.module._orig_mod." + name] = tensor;
  const ForeignWeights w = to_torchvision_names(wrapped, "wrapped");
  EXPECT_EQ(w.layout, "torchvision ViT");
  expect_equal(torchvision_tensors(), w.tensors);
}

TEST(ForeignWeightsTest, VitShapeIsReadOffTheTensors) {
  const VitShape s = vit_shape(torchvision_tensors(), "tv");
  EXPECT_EQ(s.hidden_dim, 16);
  EXPECT_EQ(s.mlp_dim, 32);
  EXPECT_EQ(s.num_layers, 2);
  EXPECT_EQ(s.patch_size_px, 16);
  EXPECT_EQ(s.grid_size, 2);
}

TEST(ForeignWeightsTest, UnknownNamesAreRefusedWithTheirShapes) {
  Tensors hf = to_hf(torchvision_tensors(), false);
  hf["vit.encoder.layer.0.attention.attention.rotary.weight"] = torch::zeros({4, 2});
  const std::string message =
      testing::error_of([&] { to_torchvision_names(hf, "odd.safetensors"); });
  EXPECT_NE(message.find("odd.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("vit.encoder.layer.0.attention.attention.rotary.weight (4, 2)"),
            std::string::npos)
      << message;
  const std::string other = testing::error_of([] {
    to_torchvision_names({{"encoder.weight", torch::zeros({3})}}, "x");
  });
  EXPECT_NE(other.find("encoder.weight (3)"), std::string::npos) << other;
  EXPECT_NE(other.find("ViTForImageClassification"), std::string::npos) << other;
}

}  // namespace
}  // namespace forensight::models
