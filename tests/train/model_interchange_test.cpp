// PyTorch interchange through the CLI, end to end: models Python saved (torchvision, timm, Hugging
// Face; safetensors and torch.save in each usual form) are imported and `forensight predict` gives
// Python's probabilities to 1e-4; exported checkpoints load into torchvision with strict names and
// give predict's probabilities. tests/train/interchange_reference.py is Python's side.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../models/python_fixture.h"
#include "../support/build_paths.h"
#include "../support/cli.h"
#include "../support/tiny_dataset.h"
#include "forensight/models/safetensors.h"

namespace forensight {
namespace {

namespace fs = std::filesystem;

constexpr double kTolerance = 1e-4;

using Outcome = testing::CliOutcome;
using testing::run_forensight;

std::string script() {
  return (fs::path(forensight::testing::test_source_dir()) / "train" / "interchange_reference.py")
      .string();
}

// Python's models, files and probabilities, made once per version of the script and cached.
const fs::path& reference() {
  static const fs::path dir = [] {
    const size_t key = std::hash<std::string>{}(models::testing::read_text(script()));
    const fs::path root = fs::temp_directory_path() / "forensight-test-fixtures";
    const fs::path done = root / ("interchange-" + std::to_string(key));
    if (fs::exists(done / "expected.json")) return done;
    const fs::path work =
        root / ("interchange-" + std::to_string(key) + ".tmp" + std::to_string(getpid()));
    fs::create_directories(work);
    std::string output;
    const int status = testing::run_command(
        std::string("'") + FORENSIGHT_PYTHON + "' '" + script() + "' make '" + work.string() + "'",
        &output);
    if (status != 0) {
      ADD_FAILURE() << "interchange_reference.py make failed:\n" << output;
      return work;
    }
    std::error_code error;
    fs::rename(work, done, error);
    if (error) {  // another test process won the race: use its copy
      // (std::filesystem::remove_all is unsafe here: tests/models/python_fixture.h says why.)
      testing::run_command("rm -rf '" + work.string() + "'", &output);
    }
    return done;
  }();
  return dir;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// `forensight predict --json` on the reference images -> {file name: P(AI-generated)}.
std::map<std::string, double> predict(const std::string& checkpoint, const std::string& dir,
                                      const std::string& extra = "") {
  const std::string json = dir + "/predict.json";
  const auto o =
      run_forensight("predict --checkpoint " + checkpoint + " " +
                     (reference() / "images").string() + " --json " + json + " " + extra);
  EXPECT_EQ(o.status, 0) << o.output;
  std::map<std::string, double> out;
  if (o.status != 0) return out;
  for (const auto& row : read_json(json))
    out[fs::path(row["path"].get<std::string>()).filename().string()] =
        row["models"][0]["probability_fake"].get<double>();
  return out;
}

void expect_same(const nlohmann::json& expected, const std::map<std::string, double>& got,
                 const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (const auto& [name, p] : expected.items()) {
    ASSERT_TRUE(got.count(name)) << what << ": no answer for " << name;
    EXPECT_NEAR(got.at(name), p.get<double>(), kTolerance) << what << ": " << name;
  }
}

// Imports `file` (relative to the reference folder), then predicts; returns import's output.
std::string import_and_compare(const std::string& model, const std::string& file,
                               const std::string& flags = "") {
  const std::string dir = testing::make_test_dir();
  const std::string checkpoint = dir + "/imported.pt";
  const auto imported = run_forensight("import " + (reference() / file).string() + " --out " +
                                       checkpoint + " " + flags);
  EXPECT_EQ(imported.status, 0) << file << ":\n" << imported.output;
  if (imported.status != 0) return imported.output;
  expect_same(read_json(reference() / "expected.json")[model], predict(checkpoint, dir), file);
  return imported.output;
}

void expect_mentions(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << text;
}

TEST(ModelImportIntegration, TorchvisionResNet18InEachFormPredictsAsPython) {
  ASSERT_FALSE(reference().empty());
  // A ResNet has no size of its own: Python's probabilities are at the images' 32 px.
  expect_mentions(import_and_compare("resnet18", "resnet18/plain.pth", "--image-size 32"),
                  "torchvision ResNet");
  expect_mentions(
      import_and_compare("resnet18", "resnet18/nested.pth", "--model resnet18 --image-size 32"),
      "under 'state_dict'");
  expect_mentions(
      import_and_compare("resnet18", "resnet18/no_counter.safetensors", "--image-size 32"),
      "imagenet normalisation");
}

TEST(ModelImportIntegration, TorchvisionVitB16PredictsAsPython) {
  expect_mentions(import_and_compare("vit_b_16", "vit_b_16/plain.safetensors"),
                  "vit-base of depth 1 at 32 px");
  expect_mentions(import_and_compare("vit_b_16", "vit_b_16/under_model.pt"), "under 'model'");
}

TEST(ModelImportIntegration, TimmVitPredictsAsPython) {
  expect_mentions(import_and_compare("timm_vit", "timm_vit/plain.pth"), "half normalisation");
  expect_mentions(import_and_compare("timm_vit", "timm_vit/plain.safetensors", "--model vit-tiny"),
                  "timm ViT");
}

TEST(ModelImportIntegration, HuggingFaceVitPredictsAsPython) {
  // save_pretrained's folder and file (transformers 4.x names), and a 5.x module's state dict.
  expect_mentions(import_and_compare("hf_vit", "hf_vit/pretrained"), "4.x names");
  import_and_compare("hf_vit", "hf_vit/pretrained/model.safetensors");
  expect_mentions(import_and_compare("hf_vit", "hf_vit/names5.pth"), "5.x names");
}

TEST(ModelImportIntegration, RefusalsSayWhatWasFoundAndWhatToDo) {
  const std::string dir = testing::make_test_dir();
  const std::string out = " --out " + dir + "/x.pt";
  auto legacy = run_forensight("import " + (reference() / "legacy.pth").string() + out);
  EXPECT_NE(legacy.status, 0);
  expect_mentions(legacy.output, "export_weights.py");
  auto head = run_forensight("import " + (reference() / "head1000.pth").string() + out);
  EXPECT_NE(head.status, 0);
  expect_mentions(head.output, "(1000, 512)");
  expect_mentions(head.output, "train --init");
  auto wrong_model = run_forensight("import " + (reference() / "resnet18/plain.pth").string() +
                                    out + " --model vit-tiny");
  EXPECT_NE(wrong_model.status, 0);
  expect_mentions(wrong_model.output, "--model resnet18");

  models::write_safetensors(dir + "/odd.safetensors",
                            {{"backbone.stem.weight", torch::zeros({8, 3, 3, 3})}});
  auto odd = run_forensight("import " + dir + "/odd.safetensors" + out);
  EXPECT_NE(odd.status, 0);
  expect_mentions(odd.output, "backbone.stem.weight (8, 3, 3, 3)");
  expect_mentions(odd.output, "Hugging Face");

  auto tensors = std::map<std::string, torch::Tensor>{};  // a ResNet missing a layer
  models::write_safetensors(dir + "/partial.safetensors",
                            {{"conv1.weight", torch::zeros({64, 3, 7, 7})},
                             {"fc.weight", torch::zeros({2, 512})},
                             {"fc.bias", torch::zeros({2})}});
  auto partial = run_forensight("import " + dir + "/partial.safetensors" + out);
  EXPECT_NE(partial.status, 0);
  expect_mentions(partial.output, "missing: layer1.0.conv1.weight");
}

TEST(ModelImportIntegration, TrainStartsFromImportedCheckpointsAndPythonFiles) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 4});
  const auto imported = run_forensight("import " + (reference() / "timm_vit/plain.pth").string() +
                                       " --out " + dir + "/vit.pt");
  ASSERT_EQ(imported.status, 0) << imported.output;
  const std::string common = " --data " + data +
                             " --image-size 32 --batch-size 4 --max-steps 1 --split 1.0 "
                             "--workers 0 --threads 1";
  for (const std::string& init : {dir + "/vit.pt", (reference() / "hf_vit/names5.pth").string()}) {
    const std::string model =
        init.ends_with("vit.pt") ? "vit-tiny --vit-layers 2" : "vit-small --vit-layers 2";
    const auto trained =
        run_forensight("train --model " + model + " --normalization half --init " + init +
                       " --out " + dir + "/run-" + fs::path(init).stem().string() + common);
    EXPECT_EQ(trained.status, 0) << init << ":\n" << trained.output;
  }
  // ImageNet's 1000-class head is replaced; the missing counters of a safetensors file are fine.
  for (const std::string& init : {(reference() / "head1000.pth").string(),
                                  (reference() / "resnet18/no_counter.safetensors").string()}) {
    const auto trained = run_forensight("train --model resnet18 --init " + init + " --out " + dir +
                                        "/run-" + fs::path(init).stem().string() + common);
    EXPECT_EQ(trained.status, 0) << init << ":\n" << trained.output;
  }
}

// export -> torchvision in Python (strict load_state_dict) -> the probabilities predict gives.
void export_and_compare(const std::string& checkpoint, const std::string& dir,
                        const std::string& predict_flags = "") {
  const std::string weights = dir + "/exported.safetensors";
  const auto exported = run_forensight("export --checkpoint " + checkpoint + " --out " + weights);
  ASSERT_EQ(exported.status, 0) << exported.output;
  ASSERT_TRUE(fs::exists(dir + "/exported.json")) << exported.output;
  std::string output;
  const int status = testing::run_command(
      std::string("'") + FORENSIGHT_PYTHON + "' '" + script() + "' check-export " + weights + " " +
          dir + "/exported.json " + (reference() / "images").string() + " " + dir + "/python.json",
      &output);
  ASSERT_EQ(status, 0) << output;
  expect_same(read_json(dir + "/python.json"), predict(checkpoint, dir, predict_flags), checkpoint);
}

TEST(ModelExportIntegration, TrainedResNetLoadsIntoTorchvisionWithTheSameProbabilities) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 4});
  const auto trained =
      run_forensight("train --data " + data + " --out " + dir +
                     "/run --image-size 32 --batch-size 4 --max-steps 2 --split 1.0 "
                     "--workers 0 --threads 1");
  ASSERT_EQ(trained.status, 0) << trained.output;
  export_and_compare(dir + "/run/checkpoints/last.pt", dir);
  const auto description = read_json(dir + "/exported.json");
  EXPECT_EQ(description["model"], "resnet18");
  EXPECT_EQ(description["image_size_px"], 32);
  EXPECT_EQ(description["threshold"], 0.5);
}

TEST(ModelExportIntegration, ImportedVitRoundTripsThroughTorchvision) {
  const std::string dir = testing::make_test_dir();
  const auto imported = run_forensight("import " + (reference() / "hf_vit/pretrained").string() +
                                       " --out " + dir + "/vit.pt");
  ASSERT_EQ(imported.status, 0) << imported.output;
  export_and_compare(dir + "/vit.pt", dir);
  expect_mentions(read_json(dir + "/exported.json")["python"].get<std::string>(),
                  "VisionTransformer(image_size=32, patch_size=16, num_layers=2, num_heads=6, "
                  "hidden_dim=384, mlp_dim=1536, num_classes=2)");
}

TEST(ModelExportIntegration, Int8CheckpointExportsItsFloatWeightsAndSaysSo) {
  const std::string dir = testing::make_test_dir();
  const std::string data = testing::write_tiny_dataset(dir + "/data", {.images_per_class = 4});
  const auto imported = run_forensight("import " + (reference() / "resnet18/plain.pth").string() +
                                       " --out " + dir + "/r18.pt --image-size 32");
  ASSERT_EQ(imported.status, 0) << imported.output;
  const auto quantized =
      run_forensight("quantize --checkpoint " + dir + "/r18.pt --data " + data + " --out " + dir +
                     "/r18-int8.pt --calibration-split all --threads 1 --workers 0");
  ASSERT_EQ(quantized.status, 0) << quantized.output;
  const auto exported = run_forensight("export --checkpoint " + dir + "/r18-int8.pt --out " + dir +
                                       "/int8.safetensors");
  ASSERT_EQ(exported.status, 0) << exported.output;
  expect_mentions(exported.output, "int8");
  expect_mentions(read_json(dir + "/int8.json")["note"].get<std::string>(), "float weights");
  // The float weights are the imported ones: Python's own probabilities come back.
  expect_same(read_json(reference() / "expected.json")["resnet18"],
              predict(dir + "/r18-int8.pt", dir, "--precision fp32"), "int8 checkpoint, fp32");
}

}  // namespace
}  // namespace forensight
