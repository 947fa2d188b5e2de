// Vision Transformer: shapes for every preset, image sizes, position-embedding interpolation, and
// agreement with torchvision's VisionTransformer (names, shapes, logits within 1e-4).
#include "forensight/models/vit.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "forensight/core/error.h"
#include "forensight/core/source_dir.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/weights.h"
#include "python_fixture.h"

namespace forensight::models {
namespace {

// torchvision VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=3,
// hidden_dim=192, mlp_dim=768) and ours with the same configuration.
constexpr const char* kSmallVitArgs =
    "--torchvision vit --vit-image-size 32 --vit-patch-size 16 --vit-layers 2 --vit-heads 3 "
    "--vit-hidden 192 --vit-mlp 768 --num-classes 2 --random-init --perturb --seed 5";

VitOptions small_vit_options() {
  VitOptions o;
  o.image_size_px = 32;
  o.patch_size_px = 16;
  o.num_layers = 2;
  o.num_heads = 3;
  o.hidden_dim = 192;
  o.mlp_dim = 768;
  o.num_classes = 2;
  return o;
}

TEST(VitTest, PresetsHaveTheirWidthsDepthsAndHeads) {
  // Their output shapes are checked by RegistryTest, which builds every preset once.
  struct Expected {
    VitOptions options;
    int64_t hidden, heads, mlp;
  };
  for (const auto& e :
       {Expected{vit_tiny_options(), 192, 3, 768}, Expected{vit_small_options(), 384, 6, 1536},
        Expected{vit_base_options(), 768, 12, 3072}}) {
    EXPECT_EQ(e.options.hidden_dim, e.hidden);
    EXPECT_EQ(e.options.num_heads, e.heads);
    EXPECT_EQ(e.options.mlp_dim, e.mlp);
    EXPECT_EQ(e.options.num_layers, 12);
    EXPECT_EQ(e.options.patch_size_px, 16);
    EXPECT_EQ(e.options.image_size_px, 224);
  }
}

TEST(VitTest, AcceptsAnyMultipleOfThePatchSize) {
  torch::NoGradGuard no_grad;
  for (int64_t side : {16, 48, 80}) {
    VitOptions options = small_vit_options();
    options.image_size_px = side;
    options.num_layers = 1;
    VisionTransformer model(options);
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({1, 3, side, side})).sizes(),
              (std::vector<int64_t>{1, 2}));
    EXPECT_EQ(model->encoder()->pos_embedding.size(1), 1 + (side / 16) * (side / 16));
  }
}

TEST(VitTest, RejectsImageSizeNotMultipleOfPatch) {
  EXPECT_THROW(VisionTransformer(vit_tiny_options(40)), Error);
  VisionTransformer model(small_vit_options());
  EXPECT_THROW(model->forward(torch::randn({1, 3, 48, 48})), Error);
}

TEST(VitTest, InterpolatedPosEmbeddingKeepsClassTokenAndResizesGrid) {
  torch::Tensor pos = torch::randn({1, 1 + 4, 8});  // (1, 1 + 2*2, D)
  pos.narrow(1, 1, 4).fill_(0.25);                  // a constant grid stays constant
  torch::Tensor resized = interpolate_pos_embedding(pos, /*new_grid=*/3);
  ASSERT_EQ(resized.sizes(), (std::vector<int64_t>{1, 10, 8}));
  EXPECT_TRUE(torch::equal(resized.narrow(1, 0, 1), pos.narrow(1, 0, 1)));
  EXPECT_LE((resized.narrow(1, 1, 9) - 0.25).abs().max().item<double>(), 1e-6);
  // align_corners: the grid's corners are kept exactly.
  torch::Tensor ramp = torch::randn({1, 1 + 4, 8});
  torch::Tensor up = interpolate_pos_embedding(ramp, /*new_grid=*/4);
  EXPECT_LE(testing::max_abs_diff(up.select(1, 1), ramp.select(1, 1)), 1e-5);
  EXPECT_LE(testing::max_abs_diff(up.select(1, 16), ramp.select(1, 4)), 1e-5);
}

TEST(VitIntegration, StateDictNamesAndShapesEqualTorchvision) {
  auto dir = testing::export_fixture(kSmallVitArgs);
  auto reference = read_safetensors(dir / "weights.safetensors").tensors;
  auto ours = state_dict(*VisionTransformer(small_vit_options()));
  ASSERT_EQ(ours.size(), reference.size());
  for (const auto& [name, tensor] : reference) {
    ASSERT_TRUE(ours.count(name)) << "torchvision has " << name << ", we do not";
    EXPECT_EQ(ours.at(name).sizes(), tensor.sizes()) << name;
  }
}

TEST(VitIntegration, SameWeightsGiveTorchvisionLogits) {
  auto dir = testing::export_fixture(kSmallVitArgs);
  VisionTransformer model(small_vit_options());
  load_weights(*model, dir / "weights.safetensors");
  model->eval();
  auto reference = read_safetensors(dir / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(reference.at("input"));  // (2, 2)
  const double diff = testing::max_abs_diff(logits, reference.at("logits"));
  std::cout << "vit (32px, 2 layers) vs torchvision: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 1e-4) << "ours " << logits << "\ntorchvision " << reference.at("logits");
}

TEST(VitIntegration, TinyPresetMatchesTorchvisionNamesShapesAndLogits) {
  auto dir = testing::export_fixture(
      "--torchvision vit_tiny_16 --num-classes 2 --random-init --perturb --seed 7 "
      "--reference-batch 1 --reference-image-size 224");
  auto weights = read_safetensors(dir / "weights.safetensors").tensors;
  VisionTransformer model(vit_tiny_options(/*image_size_px=*/224));
  auto ours = state_dict(*model);
  ASSERT_EQ(ours.size(), weights.size());
  for (const auto& [name, tensor] : weights) {
    ASSERT_TRUE(ours.count(name)) << "torchvision has " << name << ", we do not";
    EXPECT_EQ(ours.at(name).sizes(), tensor.sizes()) << name;
  }
  load_weights(*model, dir / "weights.safetensors");
  model->eval();
  auto reference = read_safetensors(dir / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  const double diff =
      testing::max_abs_diff(model->forward(reference.at("input")), reference.at("logits"));
  std::cout << "vit-tiny (224px) vs torchvision: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 1e-4);
}

// A timm VisionTransformer state dict, made here by renaming torchvision's weights to timm's
// names (cls_token, pos_embed, patch_embed.proj, blocks.N.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/
// mlp.fc2, norm, head) and saving them as a .pth, goes through export_weights.py's timm import and
// must come back as the same tensors under torchvision's names, giving torchvision's logits.
constexpr const char* kToTimm = R"(import re, sys, torch
from safetensors.torch import load_file
state = load_file(sys.argv[1])
timm = {}
for key, value in state.items():
    new = key
    new = re.sub(r"^class_token$", "cls_token", new)
    new = re.sub(r"^encoder\.pos_embedding$", "pos_embed", new)
    new = re.sub(r"^conv_proj\.", "patch_embed.proj.", new)
    new = re.sub(r"^encoder\.ln\.", "norm.", new)
    new = re.sub(r"^heads\.head\.", "head.", new)
    m = re.match(r"^encoder\.layers\.encoder_layer_(\d+)\.(.*)$", new)
    if m:
        rest = m.group(2)
        for a, b in [(r"^ln_1\.", "norm1."), (r"^ln_2\.", "norm2."),
                     (r"^self_attention\.in_proj_weight$", "attn.qkv.weight"),
                     (r"^self_attention\.in_proj_bias$", "attn.qkv.bias"),
                     (r"^self_attention\.out_proj\.", "attn.proj."),
                     (r"^mlp\.0\.", "mlp.fc1."), (r"^mlp\.3\.", "mlp.fc2.")]:
            rest = re.sub(a, b, rest)
        new = f"blocks.{m.group(1)}.{rest}"
    timm[new] = value
if len(sys.argv) > 3:
    timm["blocks.0.ls1.gamma"] = torch.ones(state["class_token"].shape[-1])
torch.save({"state_dict": timm}, sys.argv[2])
)";

// Writes the timm copy of the small ViT fixture's weights (with a layer-scale tensor when
// `layer_scale`) into a fresh folder and runs export_weights.py --input on it.
struct TimmExport {
  int status = -1;
  std::string log;                // the last script's output
  std::filesystem::path dir;      // converted.safetensors is here
  std::filesystem::path fixture;  // the torchvision weights and reference
};

TimmExport export_timm_copy(bool layer_scale) {
  TimmExport out;
  out.fixture = testing::export_fixture(kSmallVitArgs);
  out.dir = std::filesystem::temp_directory_path() /
            fmt::format("forensight-timm-{}-{}", layer_scale ? "ls" : "plain", ::getpid());
  const std::filesystem::path weights = out.fixture / "weights.safetensors";
  const std::filesystem::path& dir = out.dir;
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::ofstream(dir / "to_timm.py") << kToTimm;
  const std::string python = std::string("'") + FORENSIGHT_PYTHON + "' ";
  const std::string to_timm = python + "'" + (dir / "to_timm.py").string() + "' '" +
                              weights.string() + "' '" + (dir / "timm.pth").string() + "'" +
                              (layer_scale ? " layer-scale" : "") + " > '" +
                              (dir / "log.txt").string() + "' 2>&1";
  if (std::system(to_timm.c_str()) != 0) {
    out.log = testing::read_text(dir / "log.txt");
    return out;
  }
  const std::string script =
      (fs::path(core::source_dir()) / "scripts" / "export_weights.py").string();
  const std::string convert = python + "'" + script + "' --input '" + (dir / "timm.pth").string() +
                              "' --output '" + (dir / "converted.safetensors").string() + "' > '" +
                              (dir / "log.txt").string() + "' 2>&1";
  out.status = std::system(convert.c_str());
  out.log = testing::read_text(dir / "log.txt");
  return out;
}

TEST(VitIntegration, TimmCheckpointImportsAsTheSameWeightsAndLogits) {
  const TimmExport timm = export_timm_copy(/*layer_scale=*/false);
  ASSERT_EQ(timm.status, 0) << timm.log;
  EXPECT_NE(timm.log.find("timm ViT layout detected"), std::string::npos) << timm.log;
  auto original = read_safetensors(timm.fixture / "weights.safetensors").tensors;
  auto converted = read_safetensors(timm.dir / "converted.safetensors").tensors;
  ASSERT_EQ(converted.size(), original.size());
  for (const auto& [name, tensor] : original) {
    ASSERT_TRUE(converted.count(name)) << "the timm import lost " << name;
    EXPECT_TRUE(torch::equal(converted.at(name), tensor)) << name;
  }
  VisionTransformer model(small_vit_options());
  load_weights(*model, timm.dir / "converted.safetensors");
  model->eval();
  auto reference = read_safetensors(timm.fixture / "reference.safetensors").tensors;
  torch::NoGradGuard no_grad;
  EXPECT_LE(testing::max_abs_diff(model->forward(reference.at("input")), reference.at("logits")),
            1e-4);
  testing::remove_flat_dir(timm.dir);
}

TEST(VitIntegration, TimmFeaturesWithoutACounterpartAreRefusedByName) {
  const TimmExport timm = export_timm_copy(/*layer_scale=*/true);
  EXPECT_NE(timm.status, 0) << timm.log;
  EXPECT_NE(timm.log.find("blocks.0.ls1.gamma"), std::string::npos) << timm.log;
  testing::remove_flat_dir(timm.dir);
}

}  // namespace
}  // namespace forensight::models
