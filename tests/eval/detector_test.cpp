// prepare_for_inference: which engine a detector gets for each precision, and the refusals.
#include "forensight/eval/detector.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"
#include "forensight/models/fused_resnet.h"
#include "forensight/models/registry.h"

namespace forensight::eval {
namespace {

Detector detector_for(const std::string& model) {
  Detector d;
  d.checkpoint_path = "test.pt";
  d.config.model = model;
  models::ModelOptions options;
  options.name = model;
  options.image_size_px = 32;
  d.model = models::create_model(options);
  d.model->eval();
  return d;
}

void expect_error_mentioning(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(DetectorTest, ResNetRunsFoldedInFp32WithoutCalibration) {
  Detector d = detector_for("resnet18");
  prepare_for_inference(d, Precision::kAuto, {});
  EXPECT_EQ(d.precision, "fp32");
  EXPECT_TRUE(d.channels_last);
  EXPECT_NE(dynamic_cast<models::FusedResNetImpl*>(d.model.get()), nullptr);
}

TEST(DetectorTest, VitIsKeptAsTrained) {
  Detector d = detector_for("vit-tiny");
  auto* before = d.model.get();
  prepare_for_inference(d, Precision::kFloat32, {});
  EXPECT_EQ(d.model.get(), before);
  EXPECT_EQ(d.precision, "fp32");
}

TEST(DetectorTest, CalibratedResNetRunsInt8OnPixelsOnTheEngineAsked) {
  if (!models::int8_inference_available()) GTEST_SKIP() << "no quantized engine";
  const torch::Tensor ranges = torch::tensor({0.0, 4.0}, torch::kFloat64).repeat({28, 1});
  Detector d = detector_for("resnet18");
  prepare_for_inference(d, Precision::kAuto, ranges);
  EXPECT_EQ(d.precision, "int8");
  EXPECT_TRUE(d.raw_pixels);
  auto* int8 = dynamic_cast<models::Int8ResNetImpl*>(d.model.get());
  ASSERT_NE(int8, nullptr);
  EXPECT_EQ(int8->engine(), models::default_int8_engine());
  for (auto engine : {models::Int8Engine::kOnednn, models::Int8Engine::kFbgemm}) {
    if (!models::int8_engine_available(engine)) continue;
    Detector e = detector_for("resnet18");
    prepare_for_inference(e, Precision::kInt8, ranges, engine);
    EXPECT_EQ(dynamic_cast<models::Int8ResNetImpl&>(*e.model).engine(), engine);
  }
}

TEST(DetectorTest, Int8IsRefusedWithTheReason) {
  Detector vit = detector_for("vit-tiny");
  expect_error_mentioning(
      [&] {
        prepare_for_inference(vit, Precision::kInt8, torch::zeros({28, 2}));
      },
      "ResNet");
  Detector uncalibrated = detector_for("resnet18");
  expect_error_mentioning([&] { prepare_for_inference(uncalibrated, Precision::kInt8, {}); },
                          "forensight quantize");
}

TEST(DetectorTest, PrecisionNamesAreParsedAndOthersRefused) {
  EXPECT_EQ(parse_precision("int8"), Precision::kInt8);
  EXPECT_EQ(parse_precision("fp32"), Precision::kFloat32);
  expect_error_mentioning([] { parse_precision("fp16"); }, "auto, fp32, int8");
}

}  // namespace
}  // namespace forensight::eval
