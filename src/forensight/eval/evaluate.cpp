#include "forensight/eval/evaluate.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "forensight/core/error.h"
#include "forensight/eval/metrics.h"
#include "forensight/eval/report.h"
#include "forensight/eval/roc_plot.h"
#include "forensight/eval/sharded_inference.h"
#include "forensight/parallel/distribution.h"

namespace forensight::eval {
namespace {

struct Labelled {
  std::vector<double> scores;
  std::vector<int> labels;
  std::vector<std::string> sources;
  bool has_sources = false;
};

// Keeps the labelled samples (skipped files never reach the result).
Labelled labelled_part(const InferenceResult& inference, const data::Dataset* dataset) {
  Labelled l;
  for (size_t i = 0; i < inference.scores.size(); ++i) {
    if (inference.labels[i] < 0) continue;
    l.scores.push_back(std::clamp(inference.scores[i], 0.0, 1.0));
    l.labels.push_back(inference.labels[i]);
    if (dataset) {
      const auto& source = dataset->samples[inference.indices[i]].source;
      l.has_sources = l.has_sources || !source.empty();
      l.sources.push_back(source.empty() ? "unknown" : source);
    }
  }
  if (!l.has_sources) l.sources.clear();
  return l;
}

Metrics metrics_of(const InferenceResult& inference, const data::Dataset* dataset,
                   double threshold) {
  Labelled l = labelled_part(inference, dataset);
  FS_CHECK(!l.scores.empty(), "nothing to evaluate: no labelled image could be read");
  MetricsOptions options;
  options.threshold = threshold;
  return compute_metrics(l.scores, l.labels, options, l.sources);
}

data::DataLoader make_loader(const Detector& detector, const data::Dataset& dataset,
                             const std::vector<int64_t>& indices, const EvaluateOptions& options,
                             const data::TransformOptions& transform) {
  data::LoaderOptions loader;
  loader.batch_size = options.batch_size;
  loader.workers = options.workers;
  loader.shuffle = false;
  loader.drop_last = false;
  loader.pin_memory = detector.device.is_cuda();
  if (options.distribution) {
    loader.rank = options.distribution->rank();
    loader.world_size = options.distribution->world_size();
  }
  return data::DataLoader(dataset, indices, transform, loader);
}

}  // namespace

nlohmann::json summarize(const InferenceResult& inference, double threshold) {
  Metrics m = metrics_of(inference, nullptr, threshold);
  nlohmann::json auc = std::isfinite(m.roc_auc) ? nlohmann::json(m.roc_auc) : nlohmann::json();
  return {{"loss", inference.mean_loss},
          {"accuracy", m.accuracy},
          {"macro_f1", std::isfinite(m.macro_f1) ? nlohmann::json(m.macro_f1) : nlohmann::json()},
          {"roc_auc", auc},
          {"count", m.count},
          {"skipped", inference.skipped}};
}

nlohmann::json evaluate(Detector& detector, const data::Dataset& dataset,
                        const std::vector<int64_t>& indices, const EvaluateOptions& options) {
  FS_CHECK(dataset.labelled, "'{}' has no labels: use `forensight predict` for unlabelled images",
           dataset.root);
  auto run = [&](const data::TransformOptions& transform) {
    auto loader = make_loader(detector, dataset, indices, options, transform);
    InferenceResult result = run_inference(*detector.model, loader, inference_options(detector));
    if (!options.distribution) return result;
    // The unsharded loader's order: the given indices, or every sample.
    std::vector<int64_t> order = indices;
    if (order.empty())
      for (int64_t i = 0; i < static_cast<int64_t>(dataset.samples.size()); ++i) order.push_back(i);
    return gather_inference(result, order, *options.distribution);
  };
  const bool writes = !options.distribution || options.distribution->is_main();

  const InferenceResult clean_inference = run(detector.transform);
  EvaluationReport report;
  report.title = options.title;
  report.model = detector.checkpoint_path;
  report.dataset = dataset.root;
  report.metrics = metrics_of(clean_inference, &dataset, options.threshold);
  std::vector<RocPlotCurve> curves = {roc_plot_curve("clean", report.metrics)};

  std::vector<std::pair<std::string, data::Degradation>> sweep;
  for (int q : options.jpeg_qualities) {
    FS_CHECK(q >= 1 && q <= 100, "--jpeg quality must be in [1, 100], got {}", q);
    sweep.push_back({fmt::format("jpeg q={}", q), data::Degradation{.jpeg_quality = q}});
  }
  for (double s : options.blur_sigmas) {
    FS_CHECK(s > 0 && s <= 20, "--blur sigma must be in (0, 20], got {}", s);
    sweep.push_back({fmt::format("blur sigma={}", s), data::Degradation{.blur_sigma = s}});
  }
  for (double f : options.downscales) {
    FS_CHECK(f > 0 && f < 1, "--downscale factor must be in (0, 1), got {}", f);
    sweep.push_back({fmt::format("downscale x{}", f), data::Degradation{.downscale = f}});
  }
  for (const auto& [name, degradation] : sweep) {
    data::TransformOptions transform = detector.transform;
    transform.degradation = degradation;
    const Metrics degraded = metrics_of(run(transform), &dataset, options.threshold);
    report.robustness.push_back(robustness_row(name, degraded, report.metrics));
    curves.push_back(roc_plot_curve(name, degraded));
    spdlog::info("{}: accuracy {:.4f} (clean {:.4f})", name, degraded.accuracy,
                 report.metrics.accuracy);
  }

  if (!options.report_dir.empty() && writes) {
    std::filesystem::create_directories(options.report_dir);
    if (report.metrics.count_real > 0 && report.metrics.count_fake > 0) {
      write_roc_plot_png(std::filesystem::path(options.report_dir) / "roc.png", curves,
                         RocPlotOptions{.title = options.title + ": ROC"});
      report.roc_plot_file = "roc.png";
    }
    write_report(report, options.report_dir);
  }
  nlohmann::json json = to_json(report);
  json["skipped_files"] = clean_inference.skipped;
  return json;
}

Metrics source_against_other_class(const InferenceResult& inference, const data::Dataset& dataset,
                                   const std::string& source, double threshold) {
  const Labelled l = labelled_part(inference, &dataset);
  std::set<int> labels_of_source;
  for (size_t i = 0; i < l.sources.size(); ++i)
    if (l.sources[i] == source) labels_of_source.insert(l.labels[i]);
  FS_CHECK(!labels_of_source.empty(), "no image of source '{}' was evaluated", source);
  std::vector<double> scores;
  std::vector<int> labels;
  for (size_t i = 0; i < l.scores.size(); ++i) {
    if (l.sources[i] != source && labels_of_source.count(l.labels[i])) continue;
    scores.push_back(l.scores[i]);
    labels.push_back(l.labels[i]);
  }
  FS_CHECK(std::set<int>(labels.begin(), labels.end()).size() == 2,
           "source '{}' cannot be judged: the evaluation holds no {} image besides it", source,
           labels_of_source.count(data::kLabelFake) ? "real" : "AI-generated");
  MetricsOptions options;
  options.threshold = threshold;
  options.keep_roc = false;
  return compute_metrics(scores, labels, options);
}

nlohmann::json write_evaluation_report(const InferenceResult& inference,
                                       const data::Dataset& dataset, const std::string& folder,
                                       const std::string& split_name, const std::string& checkpoint,
                                       const std::string& held_out_source) {
  EvaluationReport report;
  report.title = fmt::format("Held-out {} split", split_name);
  report.model = checkpoint;
  report.dataset = dataset.root;
  report.metrics = metrics_of(inference, &dataset, 0.5);
  if (!held_out_source.empty()) {
    report.held_out_source = held_out_source;
    report.held_out = source_against_other_class(inference, dataset, held_out_source);
    report.title += fmt::format(", {} held out of training", held_out_source);
  }
  if (report.metrics.count_real > 0 && report.metrics.count_fake > 0) {
    std::vector<RocPlotCurve> curves = {roc_plot_curve(split_name, report.metrics)};
    write_roc_plot_png(std::filesystem::path(folder) / "roc.png", curves,
                       RocPlotOptions{.title = report.title + ": ROC"});
    report.roc_plot_file = "roc.png";
  }
  write_report(report, folder);
  nlohmann::json metrics = to_json(report.metrics);
  if (!held_out_source.empty()) metrics["held_out"] = to_json(report).at("held_out");
  return metrics;
}

}  // namespace forensight::eval
