// forensight predict: checkpoints × images -> P(AI-generated) per image, side by side when several
// checkpoints are given, with their mean; a table on stdout, JSON or CSV on request.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.h"
#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/eval/predictor.h"
#include "forensight/eval/submission.h"
#include "forensight/parallel/distribution.h"

namespace forensight::app {
namespace {

struct PredictCommand {
  std::vector<std::string> checkpoints;
  std::vector<std::string> inputs;
  std::string json_path;
  std::string csv_path;
  std::string submission_path;
  std::string unreadable = "real";
  double threshold = 0.5;
  std::string device = "cpu";
  std::string precision = "auto";
  int threads = 0;
};

// One image's answers from every detector: its JSON row, its table line and its CSV rows.
struct ImageResult {
  nlohmann::json row;
  std::string line;
  std::string csv;
  bool failed = false;
};

ImageResult predict_image(std::vector<eval::Detector>& detectors, const std::string& path,
                          double threshold) {
  ImageResult r;
  r.row = {{"path", path}, {"models", nlohmann::json::array()}};
  r.line = path;
  double sum = 0.0;
  int ok = 0;
  for (auto& detector : detectors) {
    const eval::Prediction p = eval::predict_file(detector, path, threshold);
    nlohmann::json m = {{"model", p.model},
                        {"checkpoint", detector.checkpoint_path},
                        {"precision", detector.precision},
                        {"milliseconds", p.milliseconds}};
    if (p.error.empty()) {
      m["probability_fake"] = p.probability_fake;
      m["label"] = p.label;
      sum += p.probability_fake;
      ++ok;
      r.line +=
          fmt::format("  {}: {} P(AI)={:.4f} ({:.1f} ms)", p.model,
                      p.label == 1 ? "AI-generated" : "real", p.probability_fake, p.milliseconds);
    } else {
      m["error"] = p.error;
      r.line += fmt::format("  {}: unreadable ({})", p.model, p.error);
    }
    std::string error = p.error;
    std::replace(error.begin(), error.end(), '"', '\'');
    r.csv += fmt::format("\"{}\",{},\"{}\",{},{},{:.3f},\"{}\"\n", path, p.model,
                         detector.checkpoint_path, p.error.empty() ? p.probability_fake : -1.0,
                         p.label, p.milliseconds, error);
    r.row["models"].push_back(m);
  }
  r.failed = ok == 0;
  if (ok > 0 && detectors.size() > 1) {
    r.row["mean_probability_fake"] = sum / ok;
    r.row["mean_label"] = sum / ok >= threshold ? 1 : 0;
    r.line += fmt::format("  mean P(AI)={:.4f}", sum / ok);
  }
  return r;
}

// The Kaggle submission: every id of the manifest in its order, an unreadable image labelled by the
// policy and listed on stderr.
void write_submission(const PredictCommand& c, const eval::SubmissionManifest& manifest,
                      const std::vector<ImageResult>& results, eval::UnreadablePolicy policy) {
  std::vector<int> labels;
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < results.size(); ++i) {
    const nlohmann::json& row = results[i].row;
    if (results[i].failed) {
      std::string error = row["models"][0].value("error", std::string("unreadable"));
      unreadable.push_back(fmt::format("{} ({})", manifest.ids[i], error));
      labels.push_back(policy == eval::UnreadablePolicy::kAiGenerated ? 1 : 0);
      continue;
    }
    if (row.contains("mean_label")) {
      labels.push_back(row["mean_label"].get<int>());
    } else {
      for (const auto& m : row["models"])
        if (m.contains("label")) {
          labels.push_back(m["label"].get<int>());
          break;
        }
    }
  }
  FS_CHECK(unreadable.empty() || policy != eval::UnreadablePolicy::kFail,
           "{} images of {} could not be read, and --unreadable fail writes no submission: {}",
           unreadable.size(), manifest.csv_path, fmt::join(unreadable, "; "));
  write_file_atomic(c.submission_path, eval::format_submission(manifest.ids, labels));
  for (const auto& line : unreadable)
    fmt::print(stderr, "unreadable, labelled {}: {}\n",
               policy == eval::UnreadablePolicy::kAiGenerated ? 1 : 0, line);
  fmt::print(stderr, "submission: {} ({} ids, {} unreadable)\n", c.submission_path,
             manifest.ids.size(), unreadable.size());
}

void run_predict(PredictCommand& c) {
  set_thread_counts(c.threads, 0);
  // Under `forensight launch` (or torchrun, srun) rank r answers images r, r + N, ...; rank 0
  // prints and writes everything in the input order, as one process would.
  parallel::Distribution distribution(
      parallel::DistributionOptions{.rendezvous = parallel::rendezvous_from_environment()});
  if (!distribution.is_main()) spdlog::set_level(spdlog::level::warn);
  const torch::Device device = parse_device(c.device);
  std::vector<eval::Detector> detectors;
  for (const auto& checkpoint : c.checkpoints)
    detectors.push_back(
        eval::load_detector(checkpoint, device, eval::parse_precision(c.precision)));
  // --submission: the inputs are the competition's test manifest, its ids in its order.
  const eval::UnreadablePolicy policy = eval::parse_unreadable_policy(c.unreadable);
  std::optional<eval::SubmissionManifest> manifest;
  if (!c.submission_path.empty()) {
    FS_CHECK(c.inputs.size() == 1,
             "--submission takes one input, the competition's test CSV (an id column); got {}",
             fmt::join(c.inputs, ", "));
    manifest = eval::read_submission_manifest(c.inputs[0]);
  }
  const auto paths = manifest ? manifest->paths : eval::expand_inputs(c.inputs);
  FS_CHECK(!paths.empty(), "no images found in {}", fmt::join(c.inputs, ", "));

  const int world = distribution.world_size();
  std::vector<ImageResult> results(paths.size());
  nlohmann::json mine = nlohmann::json::array();
  for (size_t i = distribution.rank(); i < paths.size(); i += world) {
    results[i] = predict_image(detectors, paths[i], c.threshold);
    if (world > 1) {
      const auto& r = results[i];
      mine.push_back(
          {{"i", i}, {"row", r.row}, {"line", r.line}, {"csv", r.csv}, {"failed", r.failed}});
    }
    if (world == 1) std::cout << results[i].line << '\n';  // as it goes, with one process
  }
  if (world > 1) {
    for (const auto& text : distribution.gather_strings(mine.dump()))
      for (const auto& r : nlohmann::json::parse(text))
        results[r.at("i").get<size_t>()] =
            ImageResult{r.at("row"), r.at("line").get<std::string>(),
                        r.at("csv").get<std::string>(), r.at("failed").get<bool>()};
    if (!distribution.is_main()) return;
    for (const auto& r : results) std::cout << r.line << '\n';
  }

  nlohmann::json rows = nlohmann::json::array();
  int64_t failed = 0;
  for (const auto& r : results) {
    rows.push_back(r.row);
    failed += r.failed ? 1 : 0;
  }
  if (!c.csv_path.empty()) {
    std::string csv = "path,model,checkpoint,probability_fake,label,milliseconds,error\n";
    for (const auto& r : results) csv += r.csv;
    write_file_atomic(c.csv_path, csv);
  }
  if (!c.json_path.empty()) {
    if (c.json_path == "-") {
      std::cout << rows.dump(2) << '\n';
    } else {
      write_file_atomic(c.json_path, rows.dump(2) + "\n");
    }
  }
  if (manifest) write_submission(c, *manifest, results, policy);
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
  cmd->add_option("--submission", c->submission_path,
                  "with the Kaggle test CSV (an id column) as the input: write the competition's "
                  "submission file, id,label in the CSV's order");
  cmd->add_option("--unreadable", c->unreadable,
                  "the submission label of an image that cannot be read: real (0), ai-generated "
                  "(1), or fail (no file) (default real)")
      ->check(CLI::IsMember({"real", "ai-generated", "fail"}));
  cmd->add_option("--threshold", c->threshold, "P(AI-generated) threshold (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  add_inference_options(*cmd, c->device, c->precision, c->threads);
  cmd->callback([c] { run_predict(*c); });
}

}  // namespace forensight::app
