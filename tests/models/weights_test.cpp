// Weight loading: strict checks list every offending key at once, the head is replaced when the
// class count differs, ViT position embeddings are interpolated to the model's grid.
#include "forensight/models/weights.h"
#include "python_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "forensight/core/error.h"
#include "forensight/models/resnet.h"
#include "forensight/models/safetensors.h"
#include "forensight/models/vit.h"

namespace forensight::models {
namespace {

namespace fs = std::filesystem;

class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("forensight-weights-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { testing::remove_flat_dir(dir_); }
  fs::path dir_;
};

VitOptions tiny_vit(int64_t image_size_px, int64_t num_classes = 2) {
  VitOptions o;
  o.image_size_px = image_size_px;
  o.num_layers = 1;
  o.num_heads = 2;
  o.hidden_dim = 32;
  o.mlp_dim = 64;
  o.num_classes = num_classes;
  return o;
}

TEST_F(WeightsTest, SaveThenLoadRestoresEveryTensor) {
  auto source = resnet18(/*num_classes=*/2);
  const fs::path path = dir_ / "r.safetensors";
  save_weights(*source, path, {{"model", "resnet18"}});
  auto target = resnet18(/*num_classes=*/2);
  LoadWeightsReport report = load_weights(*target, path);
  EXPECT_EQ(report.loaded.size(), state_dict(*target).size());
  auto expected = state_dict(*source);
  for (const auto& [name, tensor] : state_dict(*target))
    EXPECT_TRUE(torch::equal(tensor, expected.at(name))) << name;
}

TEST_F(WeightsTest, StrictLoadListsEveryOffendingKey) {
  auto tensors = state_dict(*resnet18(/*num_classes=*/2));
  tensors.erase("layer1.0.conv1.weight");
  tensors.erase("bn1.running_var");
  tensors["extra.weight"] = torch::zeros({3});
  tensors["layer2.0.conv2.weight"] = torch::zeros({128, 128, 1, 1});
  tensors["bn1.weight"] = tensors["bn1.weight"].to(torch::kDouble);
  const fs::path path = dir_ / "bad.safetensors";
  write_safetensors(path, tensors);
  auto model = resnet18(/*num_classes=*/2);
  try {
    load_weights(*model, path);
    FAIL() << "strict load accepted a mismatched file";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const char* expected :
         {"5 problems", "missing: layer1.0.conv1.weight", "missing: bn1.running_var",
          "unexpected: extra.weight",
          "wrong shape: layer2.0.conv2.weight is (128, 128, 1, 1) in the file, (128, 128, 3, 3) "
          "in the model",
          "wrong dtype: bn1.weight is Double in the file, Float in the model"})
      EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n" << message;
  }
}

TEST_F(WeightsTest, NonStrictLoadSkipsMismatchesAndConvertsPrecision) {
  auto source = resnet18(/*num_classes=*/2);
  auto tensors = state_dict(*source);
  tensors.erase("layer1.0.conv1.weight");
  tensors["bn1.weight"] = tensors["bn1.weight"].to(torch::kHalf);
  const fs::path path = dir_ / "partial.safetensors";
  write_safetensors(path, tensors);
  auto model = resnet18(/*num_classes=*/2);
  LoadWeightsOptions options;
  options.strict = false;
  LoadWeightsReport report = load_weights(*model, path, options);
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"layer1.0.conv1.weight"}));
  auto loaded = state_dict(*model);
  EXPECT_TRUE(torch::equal(loaded.at("conv1.weight"), tensors.at("conv1.weight")));
  EXPECT_TRUE(torch::allclose(loaded.at("bn1.weight"), tensors.at("bn1.weight").to(torch::kFloat)));
}

TEST_F(WeightsTest, HeadIsReplacedWhenTheClassCountDiffers) {
  auto imagenet = resnet18(/*num_classes=*/1000);
  const fs::path path = dir_ / "imagenet.safetensors";
  save_weights(*imagenet, path);
  auto detector = resnet18(/*num_classes=*/2);
  const torch::Tensor fresh_head = detector->named_parameters()["fc.weight"].clone();
  LoadWeightsReport report = load_weights(*detector, path);
  EXPECT_TRUE(report.head_replaced);
  auto loaded = state_dict(*detector);
  EXPECT_EQ(loaded.at("fc.weight").sizes(), (std::vector<int64_t>{2, 512}));
  EXPECT_TRUE(torch::equal(loaded.at("fc.weight"), fresh_head));
  EXPECT_TRUE(torch::equal(loaded.at("layer4.1.conv2.weight"),
                           state_dict(*imagenet).at("layer4.1.conv2.weight")));

  LoadWeightsOptions keep;
  keep.replace_head_if_class_count_differs = false;
  try {
    load_weights(*detector, path, keep);
    FAIL() << "a 1000-class head loaded into a 2-class model";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wrong shape: fc.weight is (1000, 512) in the file, "
                                         "(2, 512) in the model"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(WeightsTest, VitHeadIsReplacedToo) {
  VisionTransformer source(tiny_vit(32, /*num_classes=*/10));
  const fs::path path = dir_ / "vit10.safetensors";
  save_weights(*source, path);
  VisionTransformer target(tiny_vit(32, /*num_classes=*/2));
  EXPECT_TRUE(load_weights(*target, path).head_replaced);
  EXPECT_EQ(state_dict(*target).at("heads.head.weight").size(0), 2);
}

TEST_F(WeightsTest, PosEmbeddingIsInterpolatedForAnotherImageSize) {
  VisionTransformer source(tiny_vit(32));  // grid 2x2
  const fs::path path = dir_ / "vit32.safetensors";
  save_weights(*source, path);
  VisionTransformer target(tiny_vit(64));  // grid 4x4
  LoadWeightsReport report = load_weights(*target, path);
  EXPECT_TRUE(report.pos_embedding_interpolated);
  const torch::Tensor& pos = target->encoder()->pos_embedding;  // (1, 17, 32)
  ASSERT_EQ(pos.sizes(), (std::vector<int64_t>{1, 17, 32}));
  const torch::Tensor& old = source->encoder()->pos_embedding;                   // (1, 5, 32)
  EXPECT_TRUE(torch::equal(pos.narrow(1, 0, 1), old.narrow(1, 0, 1)));           // class token kept
  EXPECT_TRUE(torch::allclose(pos.select(1, 1), old.select(1, 1), 1e-5, 1e-6));  // corner kept
  torch::NoGradGuard no_grad;
  target->eval();
  EXPECT_EQ(target->forward(torch::randn({1, 3, 64, 64})).sizes(), (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace forensight::models
