#include "bench/train_epoch_bench.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bench/python_peer.h"
#include "bench/statistics.h"
#include "forensight/core/error.h"
#include "forensight/core/memory.h"
#include "forensight/data/synth.h"
#include "forensight/train/presets.h"
#include "forensight/train/train_option_table.h"

namespace forensight::bench {
namespace {

std::string ensure_dataset(const TrainEpochBenchOptions& o) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(o.work_dir) / fmt::format("synth700_n{}", o.images);
  if (!fs::exists(dir / "train.csv")) {
    data::SynthOptions synth;
    synth.out_dir = dir.string();
    synth.count = o.images;
    synth.size_px = 700;
    synth.quality = 90;
    spdlog::info("generating {} 700x700 q90 JPEGs in {}", o.images, dir.string());
    data::synthesize_dataset(synth);
  }
  return (dir / "train.csv").string();
}

// The epoch record's wall time: the loop only (loader start included), as the peer measures.
double epoch_seconds(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::string line;
  double seconds = 0;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line);
    if (record.value("kind", "") == "epoch") seconds = record.at("epoch_s").get<double>();
  }
  FS_CHECK(seconds > 0, "no epoch record in '{}'", metrics_path);
  return seconds;
}

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  FS_CHECK(!ec, "cannot find this program's own path (/proc/self/exe): {}", ec.message());
  return path.string();
}

}  // namespace

nlohmann::json run_train_epoch_bench(const TrainEpochBenchOptions& o) {
  FS_CHECK(o.rounds >= 1, "--epoch-rounds must be >= 1, got {}", o.rounds);
  const std::string csv = ensure_dataset(o);
  // The seed's ResNet18 recipe, on every image, for one epoch.
  train::TrainOptions t = train::preset_options("resnet18");
  t.data_path = csv;
  t.out_dir = (std::filesystem::path(o.work_dir) / "run").string();
  t.split = "1.0/0.0/0.0";
  t.epochs = 1;
  t.batch_size = o.batch_size;
  t.hflip_prob = 0.0;
  t.threads = o.threads;
  t.workers = o.workers;
  t.checkpoint_every_epochs = 0;

  // Ours runs as `forensight train --config` in a process of its own, as the peer does: each
  // round then pays the same first-step costs on both sides (kernel JIT, first-touch memory),
  // which a process that has trained before would have behind it.
  const std::string config_path =
      (std::filesystem::path(o.work_dir) / "epoch_config.json").string();
  std::ofstream(config_path) << train::train_options_to_json(t).dump(2) << '\n';
  const std::string log_path = (std::filesystem::path(o.work_dir) / "epoch_train.log").string();
  const std::string command =
      fmt::format("{} train --config {} > {} 2>&1", shell_quote(self_executable()),
                  shell_quote(config_path), shell_quote(log_path));

  std::vector<double> ours_s, python_s, speedups;
  nlohmann::json python_torch;
  for (int round = 0; round < o.rounds; ++round) {
    std::filesystem::remove_all(t.out_dir);
    const int status = std::system(command.c_str());
    FS_CHECK(status == 0, "the training run failed (status {}): {}; its log: {}", status, command,
             log_path);
    ours_s.push_back(epoch_seconds(t.out_dir + "/metrics.jsonl"));
    if (o.skip_python) continue;
    const auto peer =
        run_python_peer(o.python, "train_epoch_peer.py",
                        fmt::format("--csv {} --threads {} --workers {} --batch-size {}",
                                    shell_quote(csv), o.threads, o.workers, o.batch_size));
    FS_CHECK(peer.at("images").get<int>() == o.images, "the peer trained on {} images, not {}",
             peer.at("images").get<int>(), o.images);
    python_s.push_back(peer.at("epoch_s").get<double>());
    python_torch = peer.at("torch");
    speedups.push_back(python_s.back() / ours_s.back());
    spdlog::info("epoch round {}: ours {:.1f} s, python {:.1f} s, {:.2f}x", round + 1,
                 ours_s.back(), python_s.back(), speedups.back());
  }
  const double ours = median(ours_s);
  nlohmann::json result = {{"images", o.images},
                           {"threads", o.threads},
                           {"workers", o.workers},
                           {"batch_size", o.batch_size},
                           {"rounds", o.rounds},
                           {"ours_epoch_s", ours},
                           {"ours_epoch_s_per_round", ours_s},
                           {"ours_images_per_s", o.images / ours},
                           {"ours_allocator", allocator_name()}};
  if (!o.skip_python) {
    const double python = median(python_s);
    result["python_epoch_s"] = python;
    result["python_epoch_s_per_round"] = python_s;
    result["python_images_per_s"] = o.images / python;
    result["python_torch"] = python_torch;
    result["speedup_per_round"] = speedups;
    result["speedup"] = median(speedups);
  }
  fmt::print(
      "training epoch from JPEG ({} images 700x700 -> 224, resnet18, batch {}, {} threads, "
      "{} workers; medians of {} rounds)\n  ours   {:8.1f} s  {:6.1f} img/s\n",
      o.images, o.batch_size, o.threads, o.workers, o.rounds, ours, o.images / ours);
  if (result.contains("speedup"))
    fmt::print("  python {:8.1f} s  {:6.1f} img/s\n  speedup {:.2f}x (rounds: {:.2f})\n",
               result["python_epoch_s"].get<double>(), result["python_images_per_s"].get<double>(),
               result["speedup"].get<double>(), fmt::join(speedups, ", "));
  return result;
}

}  // namespace forensight::bench
