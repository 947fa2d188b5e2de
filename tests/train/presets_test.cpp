// train/presets: every preset builds valid pieces, and the generalising presets carry the options
// the leave-one-family-out experiments chose (docs/RESULTS.md, "Generalisation (issue #17)").
#include "forensight/train/presets.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "forensight/core/error.h"
#include "forensight/data/input_filter.h"

namespace forensight::train {
namespace {

TEST(PresetsTest, EveryPresetBuildsItsTransformsFilterAndModel) {
  for (const std::string& name : preset_names()) {
    SCOPED_TRACE(name);
    const TrainOptions o = preset_options(name);
    EXPECT_NO_THROW(train_transform(o));
    EXPECT_NO_THROW(eval_transform(o));
    EXPECT_NO_THROW(data::parse_input_filter(o.input_filter));
    EXPECT_EQ(model_options(o).name, o.model);
  }
}

TEST(PresetsTest, GeneralisePresetsAreListed) {
  const std::vector<std::string> names = preset_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "resnet18-generalise"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "resnet18-generalise-cpu"), names.end());
}

TEST(PresetsTest, GeneralisePresetIsFullResNet18At224WithTheGeneralisingChoices) {
  const TrainOptions o = preset_options("resnet18-generalise");
  EXPECT_EQ(o.model, "resnet18");
  EXPECT_EQ(o.image_size_px, 224);
  EXPECT_EQ(o.batch_size, 64);
  EXPECT_EQ(o.size_mode, "resize");
  EXPECT_EQ(o.input_filter, "highpass");  // the measured choice (presets.cpp)
  EXPECT_DOUBLE_EQ(o.blur_prob, 0.1);
  EXPECT_DOUBLE_EQ(o.jpeg_prob, 0.1);
  // The augmentations are for training only: evaluation sees the image as it came.
  EXPECT_DOUBLE_EQ(train_transform(o).jpeg_prob, 0.1);
  EXPECT_DOUBLE_EQ(eval_transform(o).blur_prob, 0.0);
  EXPECT_DOUBLE_EQ(eval_transform(o).jpeg_prob, 0.0);
}

TEST(PresetsTest, GeneraliseCpuPresetKeepsTheCpuScheduleWithTheSameChoices) {
  const TrainOptions cpu = preset_options("resnet18-generalise-cpu");
  const TrainOptions full = preset_options("resnet18-generalise");
  const TrainOptions base = preset_options("resnet18-cpu");
  EXPECT_EQ(cpu.image_size_px, base.image_size_px);
  EXPECT_EQ(cpu.epochs, 5);  // the measured schedule, which fits the demo's minutes
  EXPECT_DOUBLE_EQ(cpu.lr, base.lr);
  EXPECT_EQ(cpu.lr_schedule, base.lr_schedule);
  EXPECT_EQ(cpu.size_mode, full.size_mode);
  EXPECT_EQ(cpu.input_filter, full.input_filter);
  EXPECT_DOUBLE_EQ(cpu.blur_prob, full.blur_prob);
  EXPECT_DOUBLE_EQ(cpu.jpeg_prob, full.jpeg_prob);
}

TEST(PresetsTest, UnknownPresetListsTheGeneralisingOnes) {
  try {
    preset_options("resnet18-general");
    FAIL() << "an unknown preset was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("resnet18-generalise-cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace forensight::train
