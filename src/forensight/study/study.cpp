#include "forensight/study/study.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <unistd.h>

#include "forensight/core/atomic_file.h"
#include "forensight/core/cpu_info.h"
#include "forensight/core/cuda_runtime.h"
#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/data/dataset.h"
#include "forensight/data/split.h"
#include "forensight/models/registry.h"
#include "forensight/models/weights.h"
#include "forensight/study/grid.h"

namespace forensight::study {
namespace {

namespace fs = std::filesystem;

Machine this_machine(const StudyConfig& config) {
  Machine m;
  m.cores = std::max(1, cpu_info().logical_cores);
  m.cpu_bf16 = cpu_info().has_bf16();
  if (config.device == "cuda") {
    const CudaRuntime& cuda = load_cuda_runtime();
    FS_CHECK(cuda.loaded, "the study's device is cuda, but LibTorch's CUDA runtime is not here: {}",
             cuda.error);
    m.gpus = static_cast<int>(torch::cuda::device_count());
    FS_CHECK(m.gpus > 0, "the study's device is cuda, but no CUDA device is visible");
  }
  return m;
}

// "2 x NVIDIA H200" from nvidia-smi, or the count alone when it cannot say.
std::string gpu_names(int gpus) {
  const fs::path log = fs::temp_directory_path() / fmt::format("forensight-gpu-{}.txt", ::getpid());
  std::string name = "CUDA device";
  try {
    const ProcessResult p =
        run_process({"nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "--id=0"},
                    {.log_path = log.string(), .timeout_s = 20});
    if (p.exit_code == 0) name = tail_of_file(log.string(), 200);
  } catch (const Error&) {
  }
  fs::remove(log);
  return fmt::format("{} x {}", gpus, name);
}

nlohmann::json machine_json(const Machine& m, const StudyConfig& config) {
  nlohmann::json j = {{"cpu", cpu_info().summary()},
                      {"cpu_flags", cpu_info().flags},
                      {"cores", m.cores},
                      {"cpu_bf16", m.cpu_bf16},
                      {"gpus", m.gpus},
                      {"gpu", nullptr},
                      {"torch", TORCH_VERSION}};
  if (config.device == "cuda" && m.gpus > 0) j["gpu"] = gpu_names(m.gpus);
  return j;
}

// The seed's split sizes are counts for its 80k images; on a smaller set the same proportions.
std::string scaled_split(const std::string& spec_text, int64_t size) {
  const data::SplitSpec spec = data::parse_split_spec(spec_text);
  const double total = spec.parts[0] + spec.parts[1] + spec.parts[2];
  if (spec.fractions || total <= static_cast<double>(size)) return spec_text;
  return fmt::format("{:.6g}/{:.6g}/{:.6g}", spec.parts[0] / total, spec.parts[1] / total,
                     spec.parts[2] / total);
}

void write_split_csv(const data::Dataset& dataset, const data::Split& split,
                     const std::string& path) {
  std::string csv = "path,label,split\n";
  const char* names[] = {"train", "val", "test"};
  for (int part = 0; part < 3; ++part)
    for (const int64_t i : split.indices[part]) {
      const auto& sample = dataset.samples[static_cast<size_t>(i)];
      FS_CHECK(sample.path.find_first_of(",\"\n") == std::string::npos,
               "image path '{}' holds a comma, quote or newline; the study's split file cannot "
               "name it",
               sample.path);
      csv +=
          fmt::format("{},{},{}\n", fs::absolute(sample.path).string(), sample.label, names[part]);
    }
  write_file_atomic(path, csv);
}

// The data every cell reads: the built-in set made once, or the user's folder / manifest.
std::string prepare_data(const StudyConfig& config, const StudyOptions& options,
                         const std::string& out_dir) {
  if (config.data != "builtin") {
    FS_CHECK(fs::exists(config.data), "the study's data '{}' does not exist", config.data);
    return fs::absolute(config.data).string();
  }
  const fs::path dir = fs::path(out_dir) / "data";
  const fs::path stamp = dir / ".complete";
  if (!fs::exists(stamp)) {
    spdlog::info("study: making the built-in set ({} images of {} px) in {}", config.builtin_count,
                 config.builtin_size_px, dir.string());
    fs::remove_all(dir);
    const std::string log = (fs::path(out_dir) / "data-synth.log").string();
    const std::vector<std::string> argv = {options.binary,
                                           "data",
                                           "synth",
                                           "--out",
                                           dir.string(),
                                           "--count",
                                           std::to_string(config.builtin_count),
                                           "--size",
                                           std::to_string(config.builtin_size_px),
                                           "--seed",
                                           std::to_string(config.seed)};
    const ProcessResult p = run_process(argv, {.log_path = log});
    FS_CHECK(p.exit_code == 0, "making the built-in set failed: {}\n{}", shell_join(argv),
             tail_of_file(log));
    std::ofstream(stamp) << "ok\n";
  }
  return dir.string();
}

// Per model: the split (as train's --split, and as a CSV for the Python original) and the
// starting weights both engines load, so that their accuracies compare.
void prepare_models(const StudyConfig& config, StudyInputs& inputs) {
  const data::Dataset dataset = data::load_dataset(inputs.data);
  const fs::path dir = fs::path(inputs.out_dir) / "inputs";
  fs::create_directories(dir);
  for (const auto& m : config.models) {
    const std::string spec = scaled_split(m.split, static_cast<int64_t>(dataset.size()));
    const data::Split split =
        data::make_split(dataset, data::parse_split_spec(spec), static_cast<uint64_t>(config.seed));
    FS_CHECK(!split.val().empty(),
             "model {}: the split {} of {} images leaves no validation images, which every cell "
             "is scored on",
             m.key, spec, dataset.size());
    const std::string csv = (dir / (m.key + "-split.csv")).string();
    write_split_csv(dataset, split, csv);
    const std::string weights =
        (dir / fmt::format("{}-{}-init.safetensors", m.key, m.model)).string();
    if (!fs::exists(weights)) {
      torch::manual_seed(config.seed);
      models::ModelOptions model_options;
      model_options.name = m.model;
      model_options.image_size_px = m.image_size_px;
      auto model = models::create_model(model_options);
      models::save_weights(*model, weights, {{"origin", "forensight study initial weights"}});
    }
    inputs.split_specs.push_back(spec);
    inputs.split_csvs.push_back(csv);
    inputs.init_weights.push_back(weights);
  }
}

std::string duration(double seconds) {
  if (seconds < 90) return fmt::format("{:.0f} s", seconds);
  if (seconds < 5400) return fmt::format("{:.1f} min", seconds / 60);
  return fmt::format("{:.1f} h", seconds / 3600);
}

// The rest of the grid's time: each remaining cell as long as the mean of the finished cells of
// its engine (of any engine when none has finished yet).
double eta_seconds(const std::vector<Cell>& cells, size_t next,
                   const std::vector<CellRecord>& ran) {
  auto mean_of = [&](const std::string& engine) {
    double sum = 0;
    int n = 0;
    for (const auto& r : ran)
      if (engine.empty() || r.cell.engine == engine) sum += r.seconds, ++n;
    return n ? sum / n : -1.0;
  };
  const double any = mean_of("");
  double eta = 0;
  for (size_t i = next; i < cells.size(); ++i) {
    const double m = mean_of(cells[i].engine);
    eta += m >= 0 ? m : std::max(any, 0.0);
  }
  return eta;
}

}  // namespace

StudyResults run_study(const StudyOptions& options) {
  FS_CHECK(!options.out_dir.empty(), "study: --out is required");
  FS_CHECK(!options.binary.empty(), "study: the forensight executable is unknown");
  StudyConfig config = load_study_config(options.config_path);
  if (!options.python_cells.empty())
    config = parse_study_config(
        [&] {
          nlohmann::json j = to_json(config);
          j["python"] = options.python_cells;
          return j;
        }(),
        "--python");

  StudyInputs inputs;
  inputs.out_dir = fs::absolute(options.out_dir).string();
  inputs.binary = options.binary;
  inputs.python = options.python;
  fs::create_directories(inputs.out_dir);

  // A study folder belongs to one config: resuming with another would mix incomparable cells.
  const fs::path saved = fs::path(inputs.out_dir) / "study.json";
  nlohmann::json config_json = to_json(config);
  config_json.erase("python");  // which cells run Python may change between runs
  config_json.erase("cell-timeout-s");
  if (fs::exists(saved)) {
    std::ifstream in(saved);
    const auto previous = nlohmann::json::parse(in);
    FS_CHECK(previous == config_json,
             "'{}' holds a study made with another config (see {}); resume it with that config, "
             "or give another --out",
             inputs.out_dir, saved.string());
  } else {
    write_file_atomic(saved, config_json.dump(2) + "\n");
  }

  inputs.machine = this_machine(config);
  inputs.data = prepare_data(config, options, inputs.out_dir);
  prepare_models(config, inputs);

  const Grid grid = expand_grid(config, inputs.machine);
  StudyResults results;
  results.config = config;
  results.machine = machine_json(inputs.machine, config);
  results.left_out = grid.left_out;
  spdlog::info("study {}: {} cells on {} ({} left out{})", config.name, grid.cells.size(),
               cpu_info().summary(), grid.left_out.size(),
               grid.left_out.empty() ? "" : ": see report.md");
  FS_CHECK(!grid.cells.empty(), "study {}: the grid has no cell this machine can run", config.name);

  std::vector<CellRecord> ran;  // this invocation's, for the ETA
  for (size_t i = 0; i < grid.cells.size(); ++i) {
    const Cell& cell = grid.cells[i];
    const fs::path record_path = fs::path(cell_dir(inputs, cell)) / "record.json";
    CellRecord record;
    bool kept = false;
    if (fs::exists(record_path)) {
      std::ifstream in(record_path);
      record = record_from_json(nlohmann::json::parse(in));
      kept = record.status == "ok" || !options.retry_failed;
    }
    if (!kept) {
      record = run_cell(cell, config, inputs);
      write_file_atomic(record_path, to_json(record).dump(2) + "\n");
      ran.push_back(record);
    }
    results.records.push_back(record);
    write_results(inputs.out_dir, results);  // partial results are readable while it runs

    const double eta = eta_seconds(grid.cells, i + 1, ran);
    const std::string figures =
        record.status == "ok"
            ? fmt::format("{:.1f} img/s, epoch {:.1f} s, val acc {:.3f}", record.images_per_s,
                          record.epoch_s, record.val_accuracy)
            : "FAILED: " + record.error.substr(0, record.error.find('\n'));
    spdlog::info(
        "[{}/{}] {}: {}{}; ETA {}", i + 1, grid.cells.size(), cell.id, figures,
        kept ? " (kept from an earlier run)" : fmt::format(" ({})", duration(record.seconds)),
        duration(eta));
  }

  if (options.plots) {
    try {
      results.plots = draw_plots(options.python, inputs.out_dir);
    } catch (const Error&) {
      write_report(inputs.out_dir, results);
      throw;
    }
  }
  write_results(inputs.out_dir, results);
  write_report(inputs.out_dir, results);
  size_t failed = 0;
  for (const auto& r : results.records) failed += r.status != "ok";
  spdlog::info("study {}: {} cells, {} failed; report {}/report.md", config.name,
               results.records.size(), failed, inputs.out_dir);
  return results;
}

}  // namespace forensight::study
