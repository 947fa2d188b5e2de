// forensight predict: checkpoints × images -> P(AI-generated) per image, side by side when several
// checkpoints are given, with their mean; a table on stdout, JSON or CSV on request.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>

#include "commands.h"
#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/eval/predictor.h"

namespace forensight::app {
namespace {

struct PredictCommand {
  std::vector<std::string> checkpoints;
  std::vector<std::string> inputs;
  std::string json_path;
  std::string csv_path;
  double threshold = 0.5;
  std::string device = "cpu";
  std::string precision = "auto";
  int threads = 0;
};

void run_predict(PredictCommand& c) {
  set_thread_counts(c.threads, 0);
  const torch::Device device = parse_device(c.device);
  std::vector<eval::Detector> detectors;
  for (const auto& checkpoint : c.checkpoints)
    detectors.push_back(
        eval::load_detector(checkpoint, device, eval::parse_precision(c.precision)));
  const auto paths = eval::expand_inputs(c.inputs);
  FS_CHECK(!paths.empty(), "no images found in {}", fmt::join(c.inputs, ", "));

  nlohmann::json results = nlohmann::json::array();
  std::ofstream csv;
  if (!c.csv_path.empty()) {
    csv.open(c.csv_path);
    FS_CHECK(csv.good(), "cannot write --csv file '{}'", c.csv_path);
    csv << "path,model,checkpoint,probability_fake,label,milliseconds,error\n";
  }
  int64_t failed = 0;
  for (const auto& path : paths) {
    nlohmann::json row = {{"path", path}, {"models", nlohmann::json::array()}};
    double sum = 0.0;
    int ok = 0;
    std::string line = path;
    for (auto& detector : detectors) {
      const eval::Prediction p = eval::predict_file(detector, path, c.threshold);
      nlohmann::json m = {{"model", p.model},
                          {"checkpoint", detector.checkpoint_path},
                          {"precision", detector.precision},
                          {"milliseconds", p.milliseconds}};
      if (p.error.empty()) {
        m["probability_fake"] = p.probability_fake;
        m["label"] = p.label;
        sum += p.probability_fake;
        ++ok;
        line +=
            fmt::format("  {}: {} P(AI)={:.4f} ({:.1f} ms)", p.model,
                        p.label == 1 ? "AI-generated" : "real", p.probability_fake, p.milliseconds);
      } else {
        m["error"] = p.error;
        line += fmt::format("  {}: unreadable ({})", p.model, p.error);
      }
      if (csv.is_open()) {
        std::string error = p.error;
        std::replace(error.begin(), error.end(), '"', '\'');
        csv << fmt::format("\"{}\",{},\"{}\",{},{},{:.3f},\"{}\"\n", path, p.model,
                           detector.checkpoint_path, p.error.empty() ? p.probability_fake : -1.0,
                           p.label, p.milliseconds, error);
      }
      row["models"].push_back(m);
    }
    if (ok == 0) ++failed;
    if (ok > 0 && detectors.size() > 1) {
      row["mean_probability_fake"] = sum / ok;
      row["mean_label"] = sum / ok >= c.threshold ? 1 : 0;
      line += fmt::format("  mean P(AI)={:.4f}", sum / ok);
    }
    std::cout << line << '\n';
    results.push_back(row);
  }
  if (!c.json_path.empty()) {
    if (c.json_path == "-") {
      std::cout << results.dump(2) << '\n';
    } else {
      write_file_atomic(c.json_path, results.dump(2) + "\n");
    }
  }
  if (failed > 0) fmt::print(stderr, "{} of {} images could not be read\n", failed, paths.size());
}

}  // namespace

void register_predict_command(CLI::App& app) {
  auto c = std::make_shared<PredictCommand>();
  auto* cmd = app.add_subcommand("predict", "P(AI-generated) for images, folders, globs or a CSV");
  cmd->add_option("--checkpoint", c->checkpoints,
                  "checkpoint from `forensight train`; repeat the flag for side-by-side answers")
      ->required()
      ->allow_extra_args(false);  // one path per --checkpoint: the rest are images
  cmd->add_option("inputs", c->inputs, "image files, folders, glob patterns or CSV manifests")
      ->required();
  cmd->add_option("--json", c->json_path, "write results as JSON to this file (- = stdout)");
  cmd->add_option("--csv", c->csv_path, "write results as CSV to this file");
  cmd->add_option("--threshold", c->threshold, "P(AI-generated) threshold (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  add_inference_options(*cmd, c->device, c->precision, c->threads);
  cmd->callback([c] { run_predict(*c); });
}

}  // namespace forensight::app
