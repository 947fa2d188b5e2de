// The study: its config is checked key by key, the grid varies one axis at a time (or all of them)
// and leaves out what the machine cannot run, and a real two-setting study of tiny cells writes
// its CSV, JSON, report and a plot, keeps finished cells on a rerun, and records a failed cell
// without stopping.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "../support/build_paths.h"
#include "../support/error_of.h"
#include "../support/tiny_dataset.h"
#include "forensight/core/source_dir.h"
#include "forensight/study/grid.h"
#include "forensight/study/study.h"
#include "forensight/study/study_config.h"

namespace forensight::study {
namespace {

namespace fs = std::filesystem;
using forensight::testing::error_of;

nlohmann::json base_config() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "models": {"resnet18": {"image-size": 32, "batch-size": 4},
               "vit": {"model": "vit-tiny", "image-size": 32, "batch-size": 4}},
    "axes": {"threads": [1, 2, 4], "amp": ["off", "bf16", "fp16"],
             "placement": ["one", "naive", "pipeline"]}
  })");
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(StudyConfig, ShippedStudiesLoad) {
  for (const char* name : {"quick.yaml", "seed.yaml"}) {
    const StudyConfig c = load_study_config(fs::path(forensight::testing::test_source_dir()) /
                                            ".." / "studies" / name);
    EXPECT_EQ(c.models.size(), 2u) << name;
    EXPECT_EQ(c.axes.size(), 5u) << name;
    EXPECT_EQ(c.models[0].key, "resnet18");
    EXPECT_EQ(c.models[0].split, "50000/15000/15000");  // the seed's proportions
    EXPECT_EQ(c.models[1].split, "40000/5000/5000");
    EXPECT_EQ(c.models[1].normalization, "half");  // the seed's ViT mean and std of 0.5
  }
}

TEST(StudyConfig, RefusesUnknownKeysAndValuesNamingTheChoices) {
  auto with = [](const std::string& patch) {
    nlohmann::json c = base_config();
    c.merge_patch(nlohmann::json::parse(patch));
    return error_of([&] { parse_study_config(c, "study.yaml"); });
  };
  EXPECT_EQ(with("{}"), "");
  std::string e = with(R"({"axis": {}})");
  EXPECT_NE(e.find("unknown key 'axis'"), std::string::npos) << e;
  EXPECT_NE(e.find("axes"), std::string::npos) << e;
  e = with(R"({"axes": {"amp": ["fp8"]}})");
  EXPECT_NE(e.find("study.yaml.axes.amp"), std::string::npos) << e;
  EXPECT_NE(e.find("off, bf16, fp16"), std::string::npos) << e;
  e = with(R"({"axes": {"threads": [0]}})");
  EXPECT_NE(e.find("threads must be >= 1"), std::string::npos) << e;
  e = with(R"({"models": {"resnet50": {}}})");
  EXPECT_NE(e.find("resnet18 and vit"), std::string::npos) << e;
  e = with(R"({"models": {"vit": {"model": "resnet18"}}})");
  EXPECT_NE(e.find("vit-tiny"), std::string::npos) << e;
  e = with(R"({"axis-models": {"threads": ["alexnet"]}})");
  EXPECT_NE(e.find("not one of the study's models"), std::string::npos) << e;
  e = with(R"({"python": "some"})");
  EXPECT_NE(e.find("all, baseline, none"), std::string::npos) << e;
  e = with(R"({"mode": "grid"})");
  EXPECT_NE(e.find("one-at-a-time, product"), std::string::npos) << e;
  e = with(R"({"axes": {"threads": [1, 1]}})");
  EXPECT_NE(e.find("listed twice"), std::string::npos) << e;
  e = with(R"({"train": {"epochs": 2, "max-steps": 3}})");
  EXPECT_NE(e.find("max-steps"), std::string::npos) << e;
}

TEST(StudyGrid, OneAxisAtATimeFromTheBaselineWithThePythonOriginalBeside) {
  const StudyConfig c = parse_study_config(base_config(), "t");
  const Grid grid = expand_grid(c, Machine{.cores = 2, .gpus = 0});
  std::vector<std::string> ids;
  for (const auto& cell : grid.cells) ids.push_back(cell.id);
  // Per model: baseline, threads=2, amp=bf16, placement naive and pipeline; Python beside all but
  // the pipeline (the seed had none). threads=4 and fp16 are left out on 2 CPU cores.
  const std::vector<std::string> expected = {"resnet18/baseline/forensight",
                                             "resnet18/baseline/python",
                                             "resnet18/threads=2/forensight",
                                             "resnet18/threads=2/python",
                                             "resnet18/amp=bf16/forensight",
                                             "resnet18/amp=bf16/python",
                                             "resnet18/placement=naive/forensight",
                                             "resnet18/placement=naive/python",
                                             "resnet18/placement=pipeline/forensight",
                                             "vit/baseline/forensight",
                                             "vit/baseline/python",
                                             "vit/threads=2/forensight",
                                             "vit/threads=2/python",
                                             "vit/amp=bf16/forensight",
                                             "vit/amp=bf16/python",
                                             "vit/placement=naive/forensight",
                                             "vit/placement=naive/python",
                                             "vit/placement=pipeline/forensight"};
  EXPECT_EQ(ids, expected);
  ASSERT_EQ(grid.left_out.size(), 4u);
  EXPECT_NE(grid.left_out[0].find("threads=4: 1 ranks x 4 threads is more than the 2 cores"),
            std::string::npos)
      << grid.left_out[0];
  EXPECT_NE(grid.left_out[1].find("fp16"), std::string::npos) << grid.left_out[1];
  // A CPU without bf16 instructions would only measure the emulation: bf16 is left out, saying so.
  const Grid avx2 = expand_grid(c, Machine{.cores = 2, .gpus = 0, .cpu_bf16 = false});
  EXPECT_EQ(avx2.cells.size(), expected.size() - 4);
  for (const auto& cell : avx2.cells) EXPECT_NE(cell.settings.amp, "bf16") << cell.id;
  ASSERT_EQ(avx2.left_out.size(), 6u);
  EXPECT_NE(avx2.left_out[1].find("amp=bf16: bf16 autocast needs a CPU with bf16 instructions"),
            std::string::npos)
      << avx2.left_out[1];
  // On a GPU machine fp16 runs.
  StudyConfig cuda = c;
  cuda.device = "cuda";
  const Grid gpu = expand_grid(cuda, Machine{.cores = 16, .gpus = 1});
  EXPECT_TRUE(gpu.left_out.empty());
}

TEST(StudyGrid, ProductModeAxisModelsAndPythonSubset) {
  nlohmann::json j = base_config();
  j["axes"] = {{"threads", {1, 2}}, {"amp", {"off", "bf16"}}};
  j["mode"] = "product";
  j["python"] = "baseline";
  j["axis-models"] = {{"amp", {"vit"}}};
  const Grid grid = expand_grid(parse_study_config(j, "t"), Machine{.cores = 2, .gpus = 0});
  std::vector<std::string> ids;
  for (const auto& cell : grid.cells) ids.push_back(cell.id);
  const std::vector<std::string> expected = {
      "resnet18/baseline/forensight",
      "resnet18/baseline/python",
      "resnet18/t2-w0-r1-off-one/forensight",  // resnet18: threads only
      "vit/baseline/forensight",
      "vit/baseline/python",
      "vit/t1-w0-r1-bf16-one/forensight",
      "vit/t2-w0-r1-off-one/forensight",
      "vit/t2-w0-r1-bf16-one/forensight"};
  EXPECT_EQ(ids, expected);
}

// A real study: resnet18 on 32 px images, baseline and threads=2, the Python original beside the
// baseline, and a pipeline cell that must fail (more micro-batches than the batch holds).
TEST(StudyIntegration, TwoSettingGridWritesResultsReportAndPlotAndResumes) {
  const std::string dir = forensight::testing::make_test_dir();
  const std::string data = forensight::testing::write_tiny_dataset(
      dir + "/data", {.images_per_class = 12, .size_px = 40});
  nlohmann::json j = {
      {"name", "tiny"},
      {"data", data},
      {"models", {{"resnet18", {{"image-size", 32}, {"batch-size", 4}, {"split", "0.5/0.5/0"}}}}},
      {"train", {{"epochs", 3}, {"micro-batches", 8}}},
      {"axes", {{"threads", {1, 2}}, {"placement", {"pipeline"}}}},
      {"python", "baseline"},
      {"cell-timeout-s", 300}};
  const std::string config = dir + "/study.json";
  std::ofstream(config) << j.dump(2);

  StudyOptions options;
  options.config_path = config;
  options.out_dir = dir + "/study";
  options.binary = forensight::testing::forensight_binary();
  const StudyResults results = run_study(options);
  ASSERT_EQ(results.records.size(), 4u);
  for (const auto& r : results.records) {
    if (r.cell.settings.placement == "pipeline") {
      EXPECT_EQ(r.status, "failed");
      EXPECT_NE(r.error.find("micro-batches"), std::string::npos) << r.error;
      continue;
    }
    ASSERT_EQ(r.status, "ok") << r.cell.id << ": " << r.error;
    EXPECT_GT(r.images_per_s, 0) << r.cell.id;
    // Both engines' epochs are read; the timed one is the fastest after the first.
    ASSERT_EQ(r.epochs_s.size(), 3u) << r.cell.id;
    EXPECT_GT(r.epoch_s, 0) << r.cell.id;
    EXPECT_EQ(r.epoch_s, std::min(r.epochs_s[1], r.epochs_s[2])) << r.cell.id;
    EXPECT_GT(r.peak_rss_mb, 50) << r.cell.id;
    EXPECT_GE(r.val_accuracy, 0.0);
    EXPECT_LE(r.val_accuracy, 1.0);
  }

  // The CSV: a header and one row per cell, with speedups against the baseline.
  const std::string csv = read_text(options.out_dir + "/results.csv");
  EXPECT_EQ(csv.rfind("id,model,model_name,engine,axis,threads,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5) << csv;
  EXPECT_NE(csv.find("resnet18/threads=2/forensight,resnet18,resnet18,forensight,threads,2,"),
            std::string::npos)
      << csv;
  std::ifstream json_in(options.out_dir + "/results.json");
  const auto json = nlohmann::json::parse(json_in);
  EXPECT_DOUBLE_EQ(json["cells"][0]["speedup"].get<double>(), 1.0);
  EXPECT_TRUE(json["cells"][0]["vs_python"].is_number());  // baseline ran both engines
  EXPECT_TRUE(json["cells"][2]["speedup"].is_number());    // threads=2 against the baseline
  EXPECT_EQ(json["machine"]["cores"].get<int>(), results.machine["cores"].get<int>());

  // The report: the table, the seed's figures, the failed cell, the plots.
  const std::string report = read_text(options.out_dir + "/report.md");
  EXPECT_NE(report.find("| threads=2 |"), std::string::npos) << report;
  // Each cell's epoch column: the timed epoch, then all three in parentheses.
  EXPECT_TRUE(std::regex_search(report, std::regex(R"(\| [0-9.]+ \([0-9.]+ [0-9.]+ [0-9.]+\) \|)")))
      << report;
  EXPECT_NE(report.find("1.42x at 2 threads"), std::string::npos);
  EXPECT_NE(report.find("## Failed cells"), std::string::npos);
  ASSERT_FALSE(results.plots.empty());
  for (const auto& plot : results.plots) {
    const fs::path path = fs::path(options.out_dir) / plot;
    ASSERT_TRUE(fs::exists(path)) << path;
    std::ifstream png(path, std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << path;
    EXPECT_NE(report.find(plot), std::string::npos) << plot;
  }
  EXPECT_TRUE(fs::exists(fs::path(options.out_dir) / "plots" / "threads_speedup.png"));

  // A rerun keeps every finished cell (the failed one too, unless asked to retry it).
  const auto stamp = fs::last_write_time(fs::path(options.out_dir) / "cells" /
                                         "resnet18_baseline_forensight" / "record.json");
  options.plots = false;
  const StudyResults again = run_study(options);
  EXPECT_EQ(again.records.size(), 4u);
  EXPECT_EQ(fs::last_write_time(fs::path(options.out_dir) / "cells" /
                                "resnet18_baseline_forensight" / "record.json"),
            stamp);
  // Another config in the same folder is refused.
  j["train"]["lr"] = 0.01;
  std::ofstream(config) << j.dump(2);
  const std::string e = error_of([&] { run_study(options); });
  EXPECT_NE(e.find("another config"), std::string::npos) << e;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace forensight::study

namespace forensight::study {
namespace {

// The Python original starts from Forensight's weights: its mapping of torchvision's ViT names onto
// Hugging Face's must give the same logits (and ResNet18's load as they are).
TEST(StudyPythonOriginal, StartsFromTheSameWeightsAsForensight) {
  for (const std::string model : {"vit", "resnet18"}) {
    const std::string command = fmt::format(
        "{} {}/bench/python/original.py --self-check --model {} --image-size 32 "
        "--vit-hidden 192 --vit-layers 2 --vit-heads 3 --vit-mlp 768 --patch 8",
        FORENSIGHT_PYTHON, core::source_dir(), model);
    std::string output;
    EXPECT_EQ(forensight::testing::run_command(command, &output), 0) << command << "\n" << output;
  }
}

}  // namespace
}  // namespace forensight::study
