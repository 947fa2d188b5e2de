#include "forensight/study/cell_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "forensight/core/error.h"
#include "forensight/core/process.h"
#include "forensight/core/source_dir.h"

namespace forensight::study {
namespace {

namespace fs = std::filesystem;

std::string number(double v) {
  return fmt::format("{}", v);
}

// The stage devices of a placement over two devices: two CPU stages, or two GPUs (one GPU twice
// when there is only one, which runs but overlaps nothing).
std::string stage_devices(const StudyConfig& config, const Machine& machine) {
  if (config.device != "cuda") return "cpu,cpu";
  return machine.gpus >= 2 ? "cuda:0,cuda:1" : "cuda:0,cuda:0";
}

// The ViT shape (hidden, layers, heads, MLP) of a Forensight preset, for the Python original.
std::vector<std::string> vit_shape_flags(const std::string& model) {
  if (model == "vit-tiny")
    return {"--vit-hidden", "192", "--vit-layers", "12", "--vit-heads", "3", "--vit-mlp", "768"};
  if (model == "vit-small")
    return {"--vit-hidden", "384", "--vit-layers", "12", "--vit-heads", "6", "--vit-mlp", "1536"};
  return {"--vit-hidden", "768", "--vit-layers", "12", "--vit-heads", "12", "--vit-mlp", "3072"};
}

// The flags both engines take under the same names: what every cell of a model shares (data
// aside: the split and the starting weights are passed to each in its own form).
std::vector<std::string> shared_flags(const Cell& cell, const StudyConfig& config,
                                      const StudyInputs& inputs) {
  const StudyModel& m = config.models[cell.model];
  const CellSettings& s = cell.settings;
  return {"--init",       inputs.init_weights[cell.model],
          "--image-size", std::to_string(m.image_size_px),
          "--batch-size", std::to_string(m.batch_size),
          "--epochs",     std::to_string(config.epochs),
          "--max-steps",  std::to_string(config.max_steps),
          "--seed",       std::to_string(config.seed),
          "--optimizer",  config.optimizer,
          "--lr",         number(config.lr),
          "--workers",    std::to_string(s.workers),
          "--amp",        s.amp,
          "--placement",  s.placement,
          "--device",     config.device};
}

template <typename... Lists>
std::vector<std::string> concat(const Lists&... lists) {
  std::vector<std::string> out;
  (out.insert(out.end(), lists.begin(), lists.end()), ...);
  return out;
}

CellCommand forensight_command(const Cell& cell, const StudyConfig& config,
                               const StudyInputs& inputs, const Machine& machine) {
  const StudyModel& m = config.models[cell.model];
  const CellSettings& s = cell.settings;
  std::vector<std::string> train = concat(
      std::vector<std::string>{"train", "--data", inputs.data, "--out",
                               cell_dir(inputs, cell) + "/run", "--model", m.model, "--split",
                               inputs.split_specs[cell.model], "--normalization", m.normalization},
      shared_flags(cell, config, inputs),
      // As the seed's transform: no flips. Only the figures are wanted, not checkpoints per epoch.
      std::vector<std::string>{"--hflip-prob", "0", "--checkpoint-every-epochs", "0",
                               "--log-every-steps", "0"});
  if (s.placement != "one") {
    train.insert(train.end(), {"--stages", stage_devices(config, machine)});
    if (s.placement == "pipeline")
      train.insert(train.end(), {"--micro-batches", std::to_string(config.micro_batches)});
  }
  CellCommand command;
  if (s.ranks == 1) {
    command.argv = concat(std::vector<std::string>{inputs.binary}, train,
                          std::vector<std::string>{"--threads", std::to_string(s.threads)});
  } else {
    command.argv = concat(std::vector<std::string>{inputs.binary, "launch", "--nproc-per-node",
                                                   std::to_string(s.ranks), "--threads-per-rank",
                                                   std::to_string(s.threads), "--master-port",
                                                   std::to_string(free_port()), "--"},
                          train);
  }
  return command;
}

CellCommand python_command(const Cell& cell, const StudyConfig& config, const StudyInputs& inputs) {
  const StudyModel& m = config.models[cell.model];
  const CellSettings& s = cell.settings;
  std::vector<std::string> args =
      concat(std::vector<std::string>{core::source_dir() + "/bench/python/original.py",
                                      "--manifest", inputs.split_csvs[cell.model], "--model", m.key,
                                      "--threads", std::to_string(s.threads), "--out",
                                      cell_dir(inputs, cell) + "/result.json"},
             shared_flags(cell, config, inputs));
  if (m.key == "vit") args = concat(args, vit_shape_flags(m.model));
  CellCommand command;
  command.environment = {"OMP_NUM_THREADS=" + std::to_string(s.threads)};
  command.argv = s.ranks == 1 ? std::vector<std::string>{inputs.python}
                              : std::vector<std::string>{inputs.python,
                                                         "-m",
                                                         "torch.distributed.run",
                                                         "--nproc-per-node",
                                                         std::to_string(s.ranks),
                                                         "--master-port",
                                                         std::to_string(free_port())};
  command.argv = concat(command.argv, args);
  return command;
}

// Each epoch's time into r.epochs_s, and the timed epoch's time and images/s (CellRecord says
// which epoch that is) into r.epoch_s and r.images_per_s.
void read_epoch_times(const std::vector<nlohmann::json>& epochs, const std::string& source,
                      CellRecord& r) {
  FS_CHECK(!epochs.empty(), "'{}' holds no epoch record", source);
  size_t timed = 0;
  r.epochs_s.clear();
  for (size_t i = 0; i < epochs.size(); ++i) {
    r.epochs_s.push_back(epochs[i].at("epoch_s").get<double>());
    if (i == 1 || (i > 1 && r.epochs_s[i] < r.epochs_s[timed])) timed = i;
  }
  r.epoch_s = r.epochs_s[timed];
  r.images_per_s = epochs[timed].at("images_per_s").get<double>();
}

// The epoch records of a Forensight run's metrics.jsonl: times from the timed one, the rest from
// the last.
void read_forensight_figures(const std::string& run_dir, CellRecord& r) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  FS_CHECK(in.good(), "the run wrote no metrics at '{}'", path);
  std::vector<nlohmann::json> epochs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto record = nlohmann::json::parse(line);
    if (record.value("kind", "") == "epoch") epochs.push_back(std::move(record));
  }
  read_epoch_times(epochs, path, r);
  const nlohmann::json& last = epochs.back();
  r.peak_rss_mb = last.at("peak_rss_bytes").get<double>() / (1 << 20);
  if (last.contains("gpu_peak_allocated_bytes"))
    r.peak_gpu_mb = last["gpu_peak_allocated_bytes"].get<double>() / (1 << 20);
  FS_CHECK(last.contains("val"), "'{}': the run had no validation split", path);
  r.val_accuracy = last["val"].at("accuracy").get<double>();
  const auto& f1 = last["val"].value("macro_f1", nlohmann::json());
  r.val_macro_f1 = f1.is_number() ? f1.get<double>() : 0.0;  // null: one class only in val
}

void read_python_figures(const std::string& path, CellRecord& r) {
  std::ifstream in(path);
  FS_CHECK(in.good(), "the Python original wrote no result at '{}'", path);
  const auto j = nlohmann::json::parse(in);
  read_epoch_times(j.at("epochs").get<std::vector<nlohmann::json>>(), path, r);
  r.peak_rss_mb = j.at("peak_rss_bytes").get<double>() / (1 << 20);
  if (j.contains("peak_gpu_bytes") && j["peak_gpu_bytes"].is_number())
    r.peak_gpu_mb = j["peak_gpu_bytes"].get<double>() / (1 << 20);
  r.val_accuracy = j.at("val_accuracy").get<double>();
  r.val_macro_f1 = j.at("val_macro_f1").get<double>();
}

// One line that says why a cell failed: the last line of its log that reports an error (ours
// print "error: ...", Python "SomethingError: ..."), else its last line.
std::string reason_in_log(const std::string& log) {
  const std::string tail = tail_of_file(log, 4000);
  std::string last;
  size_t end = tail.size();
  while (end > 0) {
    const size_t begin = tail.rfind('\n', end - 1);
    const size_t from = begin == std::string::npos ? 0 : begin + 1;
    const std::string line = tail.substr(from, end - from);
    if (last.empty() && !line.empty()) last = line;
    if (line.find("error") != std::string::npos || line.find("Error") != std::string::npos)
      return line;
    if (from == 0) break;
    end = from - 1;
  }
  return last.empty() ? "(the log is empty)" : last;
}

}  // namespace

std::string cell_dir(const StudyInputs& inputs, const Cell& cell) {
  return inputs.out_dir + "/cells/" + cell_folder(cell.id);
}

CellCommand cell_command(const Cell& cell, const StudyConfig& config, const StudyInputs& inputs) {
  return cell.engine == "python" ? python_command(cell, config, inputs)
                                 : forensight_command(cell, config, inputs, inputs.machine);
}

CellRecord run_cell(const Cell& cell, const StudyConfig& config, const StudyInputs& inputs) {
  CellRecord r;
  r.cell = cell;
  const std::string dir = cell_dir(inputs, cell);
  fs::remove_all(dir);
  fs::create_directories(dir);
  r.log = dir + "/log.txt";
  try {
    const CellCommand command = cell_command(cell, config, inputs);
    r.command = shell_join(command.argv);
    std::ofstream(r.log) << "$ " << r.command << "\n";
    ProcessOptions options;
    options.environment = command.environment;
    options.log_path = r.log;
    options.timeout_s = config.cell_timeout_s;
    const ProcessResult p = run_process(command.argv, options);
    r.seconds = p.seconds;
    FS_CHECK(!p.timed_out, "timed out after {} s (cell-timeout-s)", config.cell_timeout_s);
    FS_CHECK(p.exit_code == 0, "exit status {}: {}", p.exit_code, reason_in_log(r.log));
    if (cell.engine == "python")
      read_python_figures(dir + "/result.json", r);
    else
      read_forensight_figures(dir + "/run", r);
    r.status = "ok";
  } catch (const std::exception& e) {
    r.status = "failed";
    r.error = e.what();
    std::replace(r.error.begin(), r.error.end(), '\n', ' ');  // one line in the CSV and report
  }
  return r;
}

nlohmann::json to_json(const CellRecord& r) {
  const CellSettings& s = r.cell.settings;
  return {{"id", r.cell.id},
          {"model_index", r.cell.model},
          {"engine", r.cell.engine},
          {"axis", r.cell.axis},
          {"threads", s.threads},
          {"workers", s.workers},
          {"ranks", s.ranks},
          {"amp", s.amp},
          {"placement", s.placement},
          {"status", r.status},
          {"error", r.error},
          {"epoch_s", r.epoch_s},
          {"epochs_s", r.epochs_s},
          {"images_per_s", r.images_per_s},
          {"peak_rss_mb", r.peak_rss_mb},
          {"peak_gpu_mb", r.peak_gpu_mb >= 0 ? nlohmann::json(r.peak_gpu_mb) : nlohmann::json()},
          {"val_accuracy", r.val_accuracy},
          {"val_macro_f1", r.val_macro_f1},
          {"seconds", r.seconds},
          {"command", r.command},
          {"log", r.log}};
}

CellRecord record_from_json(const nlohmann::json& j) {
  CellRecord r;
  r.cell.id = j.at("id").get<std::string>();
  r.cell.model = j.at("model_index").get<size_t>();
  r.cell.engine = j.at("engine").get<std::string>();
  r.cell.axis = j.at("axis").get<std::string>();
  r.cell.settings = {j.at("threads").get<int>(), j.at("workers").get<int>(),
                     j.at("ranks").get<int>(), j.at("amp").get<std::string>(),
                     j.at("placement").get<std::string>()};
  r.status = j.at("status").get<std::string>();
  r.error = j.at("error").get<std::string>();
  r.epoch_s = j.at("epoch_s").get<double>();
  // Absent in the records of studies run before it was kept.
  r.epochs_s = j.value("epochs_s", std::vector<double>{});
  r.images_per_s = j.at("images_per_s").get<double>();
  r.peak_rss_mb = j.at("peak_rss_mb").get<double>();
  r.peak_gpu_mb = j.at("peak_gpu_mb").is_number() ? j["peak_gpu_mb"].get<double>() : -1;
  r.val_accuracy = j.at("val_accuracy").get<double>();
  r.val_macro_f1 = j.at("val_macro_f1").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.command = j.at("command").get<std::string>();
  r.log = j.at("log").get<std::string>();
  return r;
}

}  // namespace forensight::study
