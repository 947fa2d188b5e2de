#include "forensight/eval/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "forensight/core/atomic_file.h"

namespace forensight::eval {
namespace {

// Four decimals are enough to compare detectors and keep tables narrow; undefined shows as n/a.
std::string cell(double value) {
  return std::isfinite(value) ? fmt::format("{:.4f}", value) : std::string("n/a");
}

std::string signed_cell(double value) {
  return std::isfinite(value) ? fmt::format("{:+.4f}", value) : std::string("n/a");
}

// Pipes would break a Markdown table row.
std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// Each generator's accuracy vs real (its images pooled with every real image) under each
// degradation, clean first: the robustness of a family held out of training, which the whole-split
// accuracy above mixes with the families the model saw. Empty when no row has per-source metrics.
std::string robustness_per_generator(const EvaluationReport& report) {
  std::vector<std::string> generators;
  for (const SourceMetrics& s : report.metrics.sources)
    if (s.count_real == 0 && s.count_fake > 0) generators.push_back(s.source);
  const bool any = std::any_of(report.robustness.begin(), report.robustness.end(),
                               [](const RobustnessRow& r) { return !r.sources.empty(); });
  if (generators.empty() || !any) return "";
  auto accuracy_of = [](const std::vector<SourceMetrics>& sources, const std::string& name) {
    for (const SourceMetrics& s : sources)
      if (s.source == name) return s.accuracy_vs_real;
    return std::numeric_limits<double>::quiet_NaN();
  };
  std::string md = "\n### Per generator: accuracy vs real\n\n| Degradation |";
  std::string rule = "|---|";
  for (const std::string& g : generators) {
    md += fmt::format(" {} |", escaped(g));
    rule += "---:|";
  }
  md += "\n" + rule + "\n| clean |";
  for (const std::string& g : generators)
    md += fmt::format(" {} |", cell(accuracy_of(report.metrics.sources, g)));
  md += "\n";
  for (const RobustnessRow& r : report.robustness) {
    if (r.sources.empty()) continue;
    md += fmt::format("| {} |", escaped(r.degradation));
    for (const std::string& g : generators)
      md += fmt::format(" {} |", cell(accuracy_of(r.sources, g)));
    md += "\n";
  }
  return md;
}

}  // namespace

RobustnessRow robustness_row(std::string degradation, const Metrics& degraded,
                             const Metrics& clean) {
  return {std::move(degradation),
          degraded.accuracy,
          degraded.roc_auc,
          clean.accuracy - degraded.accuracy,
          clean.roc_auc - degraded.roc_auc,
          degraded.sources};
}

nlohmann::json to_json(const RobustnessRow& row) {
  nlohmann::json j = {{"degradation", row.degradation},
                      {"accuracy", number_or_null(row.accuracy)},
                      {"roc_auc", number_or_null(row.roc_auc)},
                      {"accuracy_drop", number_or_null(row.accuracy_drop)},
                      {"roc_auc_drop", number_or_null(row.roc_auc_drop)}};
  if (!row.sources.empty()) {
    j["sources"] = nlohmann::json::array();
    for (const SourceMetrics& s : row.sources) j["sources"].push_back(to_json(s));
  }
  return j;
}

nlohmann::json to_json(const EvaluationReport& report) {
  nlohmann::json j = {{"title", report.title}, {"metrics", to_json(report.metrics)}};
  if (!report.model.empty()) j["model"] = report.model;
  if (!report.dataset.empty()) j["dataset"] = report.dataset;
  if (!report.robustness.empty()) {
    j["robustness"] = nlohmann::json::array();
    for (const RobustnessRow& row : report.robustness) j["robustness"].push_back(to_json(row));
  }
  if (!report.roc_plot_file.empty()) j["roc_plot_file"] = report.roc_plot_file;
  if (!report.held_out_source.empty()) {
    nlohmann::json held_out = to_json(report.held_out);
    held_out.erase("roc");  // the whole evaluation's curve is enough to plot
    held_out.erase("sources");
    held_out["source"] = report.held_out_source;
    j["held_out"] = held_out;
  }
  return j;
}

std::string to_markdown(const EvaluationReport& report) {
  const Metrics& m = report.metrics;
  std::string md = fmt::format("# {}\n\n", report.title);
  if (!report.model.empty()) md += fmt::format("- Model: `{}`\n", report.model);
  if (!report.dataset.empty()) md += fmt::format("- Data: {}\n", report.dataset);
  md += fmt::format("- Images: {} ({} real, {} AI-generated); threshold {}\n\n", m.count,
                    m.count_real, m.count_fake, m.threshold);

  if (!report.held_out_source.empty()) {
    const Metrics& h = report.held_out;
    md += fmt::format(
        "## Held-out source: {} (never seen in training)\n\nIts images against the test images "
        "of the other class: {} AI-generated, {} real.\n\n| Metric | Value |\n|---|---:|\n| "
        "Accuracy | {} |\n| ROC-AUC | {} |\n| Average precision | {} |\n\n",
        escaped(report.held_out_source), h.count_fake, h.count_real, cell(h.accuracy),
        cell(h.roc_auc), cell(h.average_precision));
  }
  md += "## Metrics\n\n| Metric | Value |\n|---|---:|\n";
  const std::pair<const char*, double> rows[] = {
      {"Accuracy", m.accuracy},
      {"Accuracy on real images", m.accuracy_real},
      {"Accuracy on AI-generated images", m.accuracy_fake},
      {"Precision (AI-generated)", m.precision},
      {"Recall (AI-generated)", m.recall},
      {"F1 (AI-generated)", m.f1},
      {"F1 (real)", m.f1_real},
      {"Macro-F1", m.macro_f1},
      {"ROC-AUC", m.roc_auc},
      {"Average precision", m.average_precision},
      {"Equal error rate", m.equal_error_rate},
      {"Best threshold", m.best_threshold},
      {"Accuracy at best threshold", m.best_accuracy},
  };
  for (const auto& [name, value] : rows) md += fmt::format("| {} | {} |\n", name, cell(value));

  const ConfusionMatrix& c = m.confusion;
  md += fmt::format(
      "\n## Confusion matrix\n\n| | Predicted real | Predicted AI-generated |\n|---|---:|---:|\n"
      "| Real | {} | {} |\n| AI-generated | {} | {} |\n",
      c.true_negatives, c.false_positives, c.false_negatives, c.true_positives);

  if (!m.sources.empty()) {
    md +=
        "\n## Per source\n\nA generator's last three columns judge its images together with "
        "every real image.\n\n| Source | Images | Real | AI-generated | Accuracy | AUC vs real | "
        "Accuracy vs real | AP vs real |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const SourceMetrics& s : m.sources)
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", escaped(s.source), s.count,
                        s.count_real, s.count_fake, cell(s.accuracy), cell(s.roc_auc_vs_real),
                        cell(s.accuracy_vs_real), cell(s.average_precision_vs_real));
  }
  if (!report.robustness.empty()) {
    md +=
        "\n## Robustness\n\n| Degradation | Accuracy | ROC-AUC | Accuracy drop | AUC drop "
        "|\n|---|---:|---:|---:|---:|\n";
    for (const RobustnessRow& r : report.robustness)
      md += fmt::format("| {} | {} | {} | {} | {} |\n", escaped(r.degradation), cell(r.accuracy),
                        cell(r.roc_auc), signed_cell(r.accuracy_drop), signed_cell(r.roc_auc_drop));
    md += robustness_per_generator(report);
  }
  if (!report.roc_plot_file.empty())
    md += fmt::format("\n## ROC curve\n\n![ROC curve]({})\n", report.roc_plot_file);
  if (!m.notes.empty()) {
    md += "\n## Notes\n\n";
    for (const std::string& note : m.notes) md += fmt::format("- {}\n", note);
  }
  return md;
}

void write_report(const EvaluationReport& report, const std::filesystem::path& folder) {
  write_file_atomic(folder / "report.json", to_json(report).dump(2) + "\n");
  write_file_atomic(folder / "report.md", to_markdown(report));
}

}  // namespace forensight::eval
