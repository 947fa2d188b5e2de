#include "forensight/study/study_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>

#include "forensight/core/atomic_file.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/core/source_dir.h"
#include "forensight/study/grid.h"

namespace forensight::study {
namespace {

namespace fs = std::filesystem;

const CellRecord* find_record(const StudyResults& results, size_t model, const std::string& engine,
                              const std::function<bool(const CellRecord&)>& match) {
  for (const auto& r : results.records)
    if (r.status == "ok" && r.cell.model == model && r.cell.engine == engine && match(r)) return &r;
  return nullptr;
}

const CellRecord* baseline_of(const StudyResults& results, const CellRecord& r) {
  return find_record(results, r.cell.model, r.cell.engine,
                     [](const CellRecord& b) { return b.cell.axis == "baseline"; });
}

std::optional<double> speedup_of(const StudyResults& results, const CellRecord& r) {
  const CellRecord* base = baseline_of(results, r);
  if (r.status != "ok" || !base || base->images_per_s <= 0) return std::nullopt;
  return r.images_per_s / base->images_per_s;
}

std::optional<double> vs_python_of(const StudyResults& results, const CellRecord& r) {
  if (r.status != "ok" || r.cell.engine != "forensight") return std::nullopt;
  const CellRecord* py = find_record(results, r.cell.model, "python", [&](const CellRecord& p) {
    return p.cell.settings == r.cell.settings;
  });
  if (!py || py->images_per_s <= 0) return std::nullopt;
  return r.images_per_s / py->images_per_s;
}

nlohmann::json optional_json(std::optional<double> v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

std::string csv_field(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string quoted = "\"";
    for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
  }
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

std::string fmt_optional(std::optional<double> v, const char* format) {
  return v ? fmt::format(fmt::runtime(format), *v) : std::string("–");
}

// The timed epoch's seconds, then every epoch's in parentheses when there were several, so that a
// reader sees how much they moved: "2.1 (2.2 2.1 2.4)".
std::string epoch_times(const CellRecord& record) {
  std::string s = fmt::format("{:.1f}", record.epoch_s);
  if (record.epochs_s.size() > 1) s += fmt::format(" ({:.1f})", fmt::join(record.epochs_s, " "));
  return s;
}

std::optional<double> change(double value, double base) {
  if (base <= 0) return std::nullopt;
  return value / base - 1.0;
}

// One figure of the seed, measured here by each engine: a value (or none) and which cell gave it.
struct Measured {
  std::optional<double> value;
  std::string cell;
};

}  // namespace

nlohmann::json results_json(const StudyResults& results) {
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& r : results.records) {
    nlohmann::json j = to_json(r);
    const StudyModel& m = results.config.models[r.cell.model];
    j["model"] = m.key;
    j["model_name"] = m.model;
    j["speedup"] = optional_json(speedup_of(results, r));
    j["vs_python"] = optional_json(vs_python_of(results, r));
    cells.push_back(j);
  }
  const CellSettings& b = results.config.baseline;
  return {{"study", results.config.name},
          {"machine", results.machine},
          {"config", to_json(results.config)},
          {"baseline",
           {{"threads", b.threads},
            {"workers", b.workers},
            {"ranks", b.ranks},
            {"amp", b.amp},
            {"placement", b.placement}}},
          {"cells", cells},
          {"left_out", results.left_out},
          {"seed_comparison", seed_comparison(results)}};
}

nlohmann::json seed_comparison(const StudyResults& results) {
  auto model_index = [&](const std::string& key) -> std::optional<size_t> {
    for (size_t i = 0; i < results.config.models.size(); ++i)
      if (results.config.models[i].key == key) return i;
    return std::nullopt;
  };
  // The speedup of the cell on `axis` matching `pick` (or the best one when pick is empty).
  auto speedup_on = [&](const std::string& key, const std::string& engine, const std::string& axis,
                        const std::function<bool(const CellSettings&)>& pick) -> Measured {
    const auto m = model_index(key);
    if (!m) return {};
    Measured best;
    for (const auto& r : results.records) {
      if (r.status != "ok" || r.cell.model != *m || r.cell.engine != engine) continue;
      if (r.cell.axis != axis) continue;
      if (pick && !pick(r.cell.settings)) continue;
      const auto s = speedup_of(results, r);
      if (s && (!best.value || *s > *best.value)) best = {s, axis_label(axis, r.cell.settings)};
    }
    return best;
  };
  // The relative change of epoch time (or memory) of one cell on `axis` against the baseline.
  auto change_on = [&](const std::string& key, const std::string& engine, const std::string& axis,
                       const std::function<bool(const CellSettings&)>& pick,
                       bool memory) -> Measured {
    const auto m = model_index(key);
    if (!m) return {};
    const CellRecord* r = find_record(results, *m, engine, [&](const CellRecord& c) {
      return c.cell.axis == axis && pick(c.cell.settings);
    });
    if (!r) return {};
    const CellRecord* base = baseline_of(results, *r);
    if (!base) return {};
    auto figure = [&](const CellRecord& c) {
      if (!memory) return c.epoch_s;
      return c.peak_gpu_mb >= 0 ? c.peak_gpu_mb : c.peak_rss_mb;
    };
    return {change(figure(*r), figure(*base)), axis_label(axis, r->cell.settings)};
  };
  const auto is_amp = [](const CellSettings& s) { return s.amp != "off"; };
  const auto is_naive = [](const CellSettings& s) { return s.placement == "naive"; };

  struct Row {
    std::string figure, seed, unit;
    std::function<Measured(const std::string& engine)> measure;
  };
  const std::vector<Row> rows = {
      {"ResNet18 data parallel, speedup at 2 ranks", "1.11x (2 GPUs)", "x",
       [&](const std::string& e) {
         return speedup_on("resnet18", e, "ranks",
                           [](const CellSettings& s) { return s.ranks == 2; });
       }},
      {"ViT data parallel, best speedup", "2.25x (4 GPUs)", "x",
       [&](const std::string& e) { return speedup_on("vit", e, "ranks", nullptr); }},
      {"ViT mixed precision, epoch time change", "-28% (353 s -> 254 s)", "%",
       [&](const std::string& e) { return change_on("vit", e, "amp", is_amp, false); }},
      {"ResNet18 mixed precision, epoch time change", "+18%", "%",
       [&](const std::string& e) { return change_on("resnet18", e, "amp", is_amp, false); }},
      {"ResNet18 naive model parallelism, memory change", "-8%", "%",
       [&](const std::string& e) { return change_on("resnet18", e, "placement", is_naive, true); }},
      {"ResNet18 naive model parallelism, epoch time change", "+-0%", "%",
       [&](const std::string& e) {
         return change_on("resnet18", e, "placement", is_naive, false);
       }},
      {"ResNet18 CPU threads, best speedup", "1.42x at 2 threads", "x",
       [&](const std::string& e) { return speedup_on("resnet18", e, "threads", nullptr); }},
      {"ViT loader workers, best speedup", "best at 2 workers, no gain beyond", "x",
       [&](const std::string& e) { return speedup_on("vit", e, "workers", nullptr); }},
  };
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json j = {{"figure", row.figure}, {"seed", row.seed}, {"unit", row.unit}};
    for (const std::string engine : {"forensight", "python"}) {
      const Measured m = row.measure(engine);
      j[engine] = {{"value", optional_json(m.value)}, {"cell", m.cell}};
    }
    out.push_back(j);
  }
  return out;
}

void write_results(const std::string& out_dir, const StudyResults& results) {
  const nlohmann::json json = results_json(results);
  write_file_atomic(fs::path(out_dir) / "results.json", json.dump(2) + "\n");
  const std::vector<std::string> columns = {
      "id",           "model",   "model_name", "engine",      "axis",        "threads",
      "workers",      "ranks",   "amp",        "placement",   "status",      "epoch_s",
      "images_per_s", "speedup", "vs_python",  "peak_rss_mb", "peak_gpu_mb", "val_accuracy",
      "val_macro_f1", "seconds", "error",      "command"};
  std::string csv;
  for (size_t i = 0; i < columns.size(); ++i) csv += (i ? "," : "") + columns[i];
  csv += "\n";
  for (const auto& cell : json["cells"]) {
    for (size_t i = 0; i < columns.size(); ++i)
      csv += (i ? "," : "") + csv_field(cell.at(columns[i]));
    csv += "\n";
  }
  write_file_atomic(fs::path(out_dir) / "results.csv", csv);
}

std::vector<std::string> draw_plots(const std::string& python, const std::string& out_dir) {
  const std::string script = core::source_dir() + "/src/forensight/study/plot_study.py";
  const std::string log = out_dir + "/plots.log";
  fs::remove(log);
  ProcessOptions options;
  options.log_path = log;
  options.timeout_s = 300;
  const std::vector<std::string> argv = {
      python, script, "--results", out_dir + "/results.json", "--out", out_dir + "/plots"};
  const ProcessResult p = run_process(argv, options);
  FS_CHECK(p.exit_code == 0, "drawing the plots failed (exit status {}): {}\n{}", p.exit_code,
           shell_join(argv), tail_of_file(log));
  // The script's last line: {"plots": [paths]}.
  const std::string tail = tail_of_file(log, 8000);
  const size_t start = tail.rfind("{\"plots\"");
  FS_CHECK(start != std::string::npos, "plot_study.py printed no list of plots:\n{}", tail);
  std::vector<std::string> plots;
  const std::string prefix = out_dir + "/";
  const nlohmann::json listed = nlohmann::json::parse(tail.substr(start));
  for (const auto& p : listed.at("plots")) {
    std::string path = p.get<std::string>();
    if (path.starts_with(prefix)) path.erase(0, prefix.size());
    plots.push_back(path);
  }
  return plots;
}

void write_report(const std::string& out_dir, const StudyResults& results) {
  const StudyConfig& c = results.config;
  std::string md = fmt::format("# Study `{}`\n\n", c.name);
  md += fmt::format("- Machine: {}\n", results.machine.value("cpu", std::string()));
  if (results.machine.contains("gpu") && results.machine["gpu"].is_string())
    md += fmt::format("- GPU: {}\n", results.machine["gpu"].get<std::string>());
  md += fmt::format("- PyTorch (LibTorch and the Python original): {}\n",
                    results.machine.value("torch", std::string("?")));
  md += fmt::format(
      "- Data: {}; {} epoch(s){}, {} lr {}; device {}\n", c.data, c.epochs,
      c.max_steps > 0 ? fmt::format(" of at most {} steps", c.max_steps) : std::string(),
      c.optimizer, c.lr, c.device);
  md += fmt::format(
      "- Baseline cell: {} threads, {} workers, {} rank(s), amp {}, placement {}; {} varied {}\n\n",
      c.baseline.threads, c.baseline.workers, c.baseline.ranks, c.baseline.amp,
      c.baseline.placement, c.mode == "product" ? "every combination of the axes" : "each axis",
      c.mode == "product" ? "" : "alone from it (as the seed did)");
  md +=
      "Speedup: training images/s of the timed epoch (training plus validation pass: the "
      "fastest epoch after the first, which warms up; the only one in a one-epoch run) over the "
      "same model's and engine's baseline cell; every epoch's seconds follow the timed one's in "
      "parentheses; validation accuracy and macro-F1 are the last epoch's. Ours/Python: "
      "Forensight's images/s over the seed's Python original in the same settings, from the same "
      "weights, data and split.\n\n";

  const nlohmann::json json = results_json(results);
  for (size_t m = 0; m < c.models.size(); ++m) {
    const StudyModel& model = c.models[m];
    md += fmt::format("## {} ({}, {} px, batch {} per rank, split {})\n\n", model.key, model.model,
                      model.image_size_px, model.batch_size, model.split);
    md +=
        "| cell | Forensight img/s | speedup | epoch s (each) | peak RSS MB | val acc | macro-F1 | "
        "Python img/s | speedup | epoch s (each) | peak RSS MB | val acc | ours/Python |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& r : results.records) {
      if (r.cell.model != m || r.cell.engine != "forensight") continue;
      const CellRecord* py = nullptr;
      for (const auto& p : results.records)
        if (p.cell.model == m && p.cell.engine == "python" && p.cell.settings == r.cell.settings)
          py = &p;
      auto figures = [&](const CellRecord* x, bool with_quality) {
        if (!x)
          return std::string(with_quality ? "– | – | – | – | – | – |" : "– | – | – | – | – |");
        if (x->status != "ok")
          return std::string(with_quality ? "failed | | | | | |" : "failed | | | | |");
        std::string s =
            fmt::format("{:.1f} | {} | {} | {:.0f} | {:.3f} |", x->images_per_s,
                        fmt_optional(speedup_of(results, *x), "{:.2f}x"), epoch_times(*x),
                        x->peak_gpu_mb >= 0 ? x->peak_gpu_mb : x->peak_rss_mb, x->val_accuracy);
        if (with_quality) s += fmt::format(" {:.3f} |", x->val_macro_f1);
        return s;
      };
      md += fmt::format("| {} | {} {} {} |\n", axis_label(r.cell.axis, r.cell.settings),
                        figures(&r, true), figures(py, false),
                        fmt_optional(vs_python_of(results, r), "{:.2f}x"));
    }
    md += "\n";
  }

  md += "## Against the seed's published figures\n\n";
  md += "| figure | seed (P100/V100, PyTorch 2.5) | Forensight here | Python original here |\n";
  md += "|---|---|---|---|\n";
  for (const auto& row : json["seed_comparison"]) {
    auto show = [&](const nlohmann::json& m) {
      if (m.at("value").is_null()) return std::string("not measured");
      const double v = m["value"].get<double>();
      const std::string value =
          row["unit"] == "%" ? fmt::format("{:+.0f}%", 100 * v) : fmt::format("{:.2f}x", v);
      return fmt::format("{} ({})", value, m["cell"].get<std::string>());
    };
    md += fmt::format("| {} | {} | {} | {} |\n", row["figure"].get<std::string>(),
                      row["seed"].get<std::string>(), show(row["forensight"]), show(row["python"]));
  }
  md += "\n";

  bool any_failed = false;
  for (const auto& r : results.records) any_failed |= r.status != "ok";
  if (any_failed) {
    md += "## Failed cells\n\n";
    for (const auto& r : results.records)
      if (r.status != "ok")
        md += fmt::format("- `{}`: {} (log: `{}`)\n", r.cell.id,
                          r.error.substr(0, r.error.find('\n')), r.log);
    md += "\n";
  }
  if (!results.left_out.empty()) {
    md += "## Left out on this machine\n\n";
    for (const auto& l : results.left_out) md += "- " + l + "\n";
    md += "\n";
  }
  if (!results.plots.empty()) {
    md += "## Plots\n\n";
    for (const auto& p : results.plots)
      md += fmt::format("![{}]({})\n\n", fs::path(p).stem().string(), p);
  }
  md += "## Commands\n\n";
  for (const auto& r : results.records) md += fmt::format("- `{}`: `{}`\n", r.cell.id, r.command);
  write_file_atomic(fs::path(out_dir) / "report.md", md);
}

}  // namespace forensight::study
