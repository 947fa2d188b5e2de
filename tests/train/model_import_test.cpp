// Import without Python: a single-logit head becomes two logits with the same P(AI-generated), the
// checkpoint records the model, size and normalisation, and a mismatched --model is refused.
#include "forensight/train/model_import.h"

#include <gtest/gtest.h>

#include "../support/error_of.h"
#include "../support/tiny_dataset.h"
#include "forensight/eval/detector.h"
#include "forensight/models/resnet.h"
#include "forensight/models/safetensors.h"

namespace forensight::train {
namespace {

TEST(ModelImportTest, SingleLogitHeadKeepsItsProbability) {
  const std::string dir = testing::make_test_dir();
  torch::manual_seed(0);
  auto source = models::resnet18(/*num_classes=*/1);
  source->eval();
  auto tensors = models::state_dict(*source);
  for (auto it = tensors.begin(); it != tensors.end();)  // as files exported without buffers
    it = it->first.ends_with("num_batches_tracked") ? tensors.erase(it) : std::next(it);
  models::write_safetensors(dir + "/one_logit.safetensors", tensors);

  const ImportReport report = import_model({.weights_path = dir + "/one_logit.safetensors",
                                            .out_path = dir + "/r.pt",
                                            .image_size_px = 32});
  EXPECT_EQ(report.model, "resnet18");
  EXPECT_EQ(report.normalization, "imagenet");
  EXPECT_EQ(report.image_size_px, 32);

  eval::Detector detector =
      eval::load_detector(dir + "/r.pt", torch::kCPU, eval::Precision::kFloat32);
  EXPECT_EQ(detector.config.image_size_px, 32);
  EXPECT_EQ(detector.config.normalization, "imagenet");
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 32, 32});  // (B, 3, H, W)
  const torch::Tensor expected = torch::sigmoid(source->forward(x)).squeeze(1);
  const torch::Tensor got =
      torch::softmax(detector.model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast)), 1)
          .select(1, 1);
  EXPECT_LT((expected - got).abs().max().item<double>(), 1e-5);
}

TEST(ModelImportTest, MismatchedModelIsRefusedNamingWhatTheFileHolds) {
  const std::string dir = testing::make_test_dir();
  models::save_weights(*models::resnet18(/*num_classes=*/2), dir + "/r.safetensors");
  const std::string message = testing::error_of([&] {
    import_model(
        {.weights_path = dir + "/r.safetensors", .out_path = dir + "/x.pt", .model = "vit-small"});
  });
  EXPECT_NE(message.find("holds a ResNet"), std::string::npos) << message;
  EXPECT_NE(message.find("--model resnet18"), std::string::npos) << message;
}

}  // namespace
}  // namespace forensight::train
