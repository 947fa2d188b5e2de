// --input-filter end to end: a run trained with a filter records it (config, checkpoint, export
// sidecar), and every path that prepares an image for the model — the trainer's test pass, eval,
// predict (the server's path too), int8 calibration — applies the same filter, so their
// probabilities agree; an unknown filter is refused with the valid ones.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "../support/cli.h"
#include "../support/tiny_dataset.h"
#include "forensight/data/dataset.h"
#include "forensight/data/loader.h"
#include "forensight/data/split.h"
#include "forensight/eval/detector.h"
#include "forensight/eval/inference.h"
#include "forensight/eval/predictor.h"

namespace forensight {
namespace {

using Outcome = testing::CliOutcome;
using testing::run_forensight;

using testing::read_json;

TEST(InputFilterIntegration, UnknownFilterIsRefusedWithTheValidOnes) {
  const Outcome o = run_forensight("train --data x --out y --input-filter sobel");
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.output.find("sobel"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("highpass"), std::string::npos) << o.output;
}

TEST(InputFilterIntegration, EveryPathAppliesTheFilterTheRunRecorded) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 6});
  const Outcome trained = run_forensight(
      "train --data " + data + " --out " + dir +
      "/run --input-filter npr --image-size 32 --batch-size 4 --max-steps 3 --split 0.5/0/0.5 "
      "--workers 0 --threads 1");
  ASSERT_EQ(trained.status, 0) << trained.output;
  EXPECT_EQ(read_json(dir + "/run/config.json")["input-filter"], "npr");
  const std::string checkpoint = dir + "/run/checkpoints/last.pt";

  // The checkpoint carries it: the detector, and export's sidecar for Python users.
  eval::Detector detector = eval::load_detector(checkpoint, torch::kCPU, eval::Precision::kFloat32);
  EXPECT_EQ(detector.input_filter, data::InputFilter::kNpr);
  const Outcome exported =
      run_forensight("export --checkpoint " + checkpoint + " --out " + dir + "/model.safetensors");
  ASSERT_EQ(exported.status, 0) << exported.output;
  const nlohmann::json sidecar = read_json(dir + "/model.json");
  EXPECT_EQ(sidecar["input_filter"], "npr");
  EXPECT_NE(sidecar["input"].get<std::string>().find("NPR residual"), std::string::npos);

  // eval's path (loader, batches) against predict's (one image, decoded from its bytes).
  const data::Dataset dataset = data::load_dataset(data);
  const data::Split split = data::load_split(dir + "/run/split.json", dataset);
  data::LoaderOptions loader_options;
  loader_options.batch_size = 4;
  loader_options.workers = 0;
  loader_options.shuffle = false;
  data::DataLoader loader(dataset, split.test(), detector.transform, loader_options);
  const eval::InferenceResult batched =
      eval::run_inference(*detector.model, loader, eval::inference_options(detector));
  ASSERT_EQ(batched.scores.size(), split.test().size());
  eval::Detector unfiltered =
      eval::load_detector(checkpoint, torch::kCPU, eval::Precision::kFloat32);
  unfiltered.input_filter = data::InputFilter::kNone;
  double largest_filter_effect = 0.0;
  for (size_t i = 0; i < batched.scores.size(); ++i) {
    const std::string& path = dataset.samples[batched.indices[i]].path;
    const eval::Prediction p = eval::predict_file(detector, path, 0.5);
    ASSERT_TRUE(p.error.empty()) << p.error;
    EXPECT_NEAR(p.probability_fake, batched.scores[i], 1e-5) << path;
    largest_filter_effect = std::max(
        largest_filter_effect,
        std::fabs(eval::predict_file(unfiltered, path, 0.5).probability_fake - p.probability_fake));
  }
  EXPECT_GT(largest_filter_effect, 1e-4) << "the filter made no difference to the answers";

  // The trainer's own test pass (the trained module, not the folded engine) against `eval`.
  const Outcome evaluated =
      run_forensight("eval --checkpoint " + checkpoint + " --data " + data +
                     " --split test --workers 0 --json " + dir + "/eval.json");
  ASSERT_EQ(evaluated.status, 0) << evaluated.output;
  const nlohmann::json trainer_report = read_json(dir + "/run/report.json")["metrics"];
  const nlohmann::json eval_report = read_json(dir + "/eval.json")["metrics"];
  EXPECT_NEAR(trainer_report["roc_auc"].get<double>(), eval_report["roc_auc"].get<double>(), 1e-9);
  EXPECT_EQ(trainer_report["confusion"], eval_report["confusion"]);

  // int8: calibrated on filtered input, run on it (the stem in float), close to fp32.
  const Outcome quantized =
      run_forensight("quantize --checkpoint " + checkpoint + " --data " + data + " --out " + dir +
                     "/int8.pt --workers 0 --json " + dir + "/q.json");
  ASSERT_EQ(quantized.status, 0) << quantized.output;
  EXPECT_LT(read_json(dir + "/q.json")["mean_probability_change"].get<double>(), 0.05);
  eval::Detector int8 = eval::load_detector(dir + "/int8.pt", torch::kCPU, eval::Precision::kInt8);
  EXPECT_EQ(int8.input_filter, data::InputFilter::kNpr);
  EXPECT_FALSE(int8.raw_pixels);  // filtered values are not pixels: the stem reads floats
}

}  // namespace
}  // namespace forensight
