#include "bench/train_epoch_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bench/python_peer.h"
#include "forensight/core/error.h"
#include "forensight/data/synth.h"
#include "forensight/train/presets.h"
#include "forensight/train/train_option_table.h"
#include "forensight/train/trainer.h"

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

}  // namespace

nlohmann::json run_train_epoch_bench(const TrainEpochBenchOptions& o) {
  const std::string csv = ensure_dataset(o);
  // The seed's ResNet18 recipe, on every image, for one epoch.
  train::TrainOptions t = train::preset_options("resnet18");
  t.data_path = csv;
  t.out_dir = (std::filesystem::path(o.work_dir) / "run").string();
  std::filesystem::remove_all(t.out_dir);
  t.split = "1.0/0.0/0.0";
  t.epochs = 1;
  t.batch_size = o.batch_size;
  t.hflip_prob = 0.0;
  t.threads = o.threads;
  t.workers = o.workers;
  t.checkpoint_every_epochs = 0;
  const auto trained = train::train(t, train::train_options_to_json(t), false);
  FS_CHECK(trained.steps > 0, "the trainer ran no step on '{}'", csv);
  const double ours_s = epoch_seconds(t.out_dir + "/metrics.jsonl");

  nlohmann::json result = {{"images", o.images},     {"threads", o.threads},
                           {"workers", o.workers},   {"batch_size", o.batch_size},
                           {"ours_epoch_s", ours_s}, {"ours_images_per_s", o.images / ours_s}};
  if (!o.skip_python) {
    const auto peer =
        run_python_peer(o.python, "train_epoch_peer.py",
                        fmt::format("--csv {} --threads {} --workers {} --batch-size {}",
                                    shell_quote(csv), o.threads, o.workers, o.batch_size));
    FS_CHECK(peer.at("images").get<int>() == o.images, "the peer trained on {} images, not {}",
             peer.at("images").get<int>(), o.images);
    result["python_epoch_s"] = peer.at("epoch_s");
    result["python_images_per_s"] = peer.at("images_per_s");
    result["python_torch"] = peer.at("torch");
    result["speedup"] = peer.at("epoch_s").get<double>() / ours_s;
  }
  fmt::print(
      "training epoch from JPEG ({} images 700x700 -> 224, resnet18, batch {}, {} threads, "
      "{} workers)\n  ours   {:8.1f} s  {:6.1f} img/s\n",
      o.images, o.batch_size, o.threads, o.workers, ours_s, o.images / ours_s);
  if (result.contains("speedup"))
    fmt::print("  python {:8.1f} s  {:6.1f} img/s\n  speedup {:.2f}x\n",
               result["python_epoch_s"].get<double>(), result["python_images_per_s"].get<double>(),
               result["speedup"].get<double>());
  return result;
}

}  // namespace forensight::bench
