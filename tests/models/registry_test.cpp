// The model registry: every listed name builds a classifier with the requested head, and an
// unknown name is refused with the valid names.
#include "forensight/models/registry.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"

namespace forensight::models {
namespace {

TEST(RegistryTest, EveryNameBuildsAModelWithTheRequestedHead) {
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model_names(),
            (std::vector<std::string>{"resnet18", "vit-tiny", "vit-small", "vit-base"}));
  for (const auto& name : model_names()) {
    ModelOptions options;
    options.name = name;
    options.num_classes = 3;
    options.image_size_px = 32;
    auto model = create_model(options);
    model->eval();
    EXPECT_EQ(model->forward(torch::randn({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 3}))
        << name;
  }
}

TEST(RegistryTest, UnknownNameListsValidNames) {
  ModelOptions options;
  options.name = "resnet50";
  try {
    create_model(options);
    FAIL() << "create_model accepted resnet50";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("resnet50"), std::string::npos) << message;
    EXPECT_NE(message.find("resnet18, vit-tiny, vit-small, vit-base"), std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace forensight::models
