// forensight data: inspect a dataset, generate the built-in one, build a decoded cache. Each
// subcommand only parses its flags (one table per subcommand) and calls the library.
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "commands.h"
#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/decoded_cache.h"
#include "forensight/data/inspect.h"
#include "forensight/data/synth.h"

namespace forensight::app {
namespace {

int default_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

struct InspectFlags {
  std::string path;
  std::string json_path;
  data::InspectOptions options{default_threads()};
};

struct CacheFlags {
  std::string path;
  std::string out_path;
  std::string mode = "resize";
  data::TransformOptions transform;
  int threads = default_threads();
};

void register_inspect(CLI::App& data, std::shared_ptr<InspectFlags> f) {
  auto* cmd = data.add_subcommand("inspect",
                                  "Summarise a dataset folder or CSV: classes, formats, "
                                  "sizes, corrupt files, exact duplicates");
  cmd->add_option("path", f->path, "dataset folder (class subfolders) or .csv manifest")
      ->required();
  cmd->add_option("--json", f->json_path, "also write the report as JSON to FILE ('-' = stdout)");
  cmd->add_option("--threads", f->options.threads, "decoding threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  cmd->callback([f] {
    data::InspectReport report = data::inspect_dataset(data::load_dataset(f->path), f->options);
    if (f->json_path == "-") {
      std::cout << report.to_json().dump(2) << "\n";
      return;
    }
    std::cout << report.to_table();
    if (!f->json_path.empty()) {
      std::ofstream out(f->json_path);
      out << report.to_json().dump(2) << "\n";
      if (!out) fail("cannot write '{}'", f->json_path);
      spdlog::info("inspect: JSON report written to {}", f->json_path);
    }
  });
}

struct SynthFlags {
  data::SynthOptions options;
  std::string families = "transposed-conv";
  std::string crop_mode = "resize";
  double photo_memory_gb = 8.0;
};

void register_synth(CLI::App& data, std::shared_ptr<SynthFlags> f) {
  auto* cmd = data.add_subcommand(
      "synth",
      "Generate the built-in dataset: crops of photographs from Debian wallpaper packages (real) "
      "and their re-synthesis by small generators of several families (fake)");
  data::SynthOptions& o = f->options;
  cmd->add_option("--out", o.out_dir, "output folder: 0_real/, 1_fake/, train.csv")->required();
  cmd->add_option("--count", o.count, "images in total, half per class (default 400)")
      ->check(CLI::Range(2, 1000000));
  cmd->add_option("--size", o.size_px, "side of each image in pixels (default 256)")
      ->check(CLI::Range(32, 2048));
  cmd->add_option("--seed", o.seed, "random seed (default 0)");
  cmd->add_option("--quality", o.quality, "JPEG quality of both classes (default 90)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--families", f->families,
                  "generator families of the fake class, comma-separated, or all: transposed-conv, "
                  "nearest-conv, bilinear-conv, pixel-shuffle, fir-conv, diffusion (default "
                  "transposed-conv)");
  cmd->add_option("--photos", o.photos,
                  "photograph sets of the real class, comma-separated: mate-backgrounds, "
                  "lomiri-wallpapers-16.04, all, or folders (NAME=DIR or DIR) (default "
                  "mate-backgrounds)")
      ->delimiter(',');
  cmd->add_option("--crop-mode", f->crop_mode,
                  "resize (crops of the photograph reduced to a short side of about 1024 px, "
                  "default) or native (crops at the photograph's own resolution)")
      ->check(CLI::IsMember({"resize", "native"}));
  cmd->add_option(
         "--photo-memory-gb", f->photo_memory_gb,
         "refuse to hold more decoded photographs than this many GiB in memory (default 8)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--fit-steps", o.fit_steps, "fitting steps per generator (default 40)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([f] {
    f->options.families = data::parse_generator_families(f->families);
    f->options.crop_mode =
        f->crop_mode == "native" ? data::SynthCropMode::kNative : data::SynthCropMode::kResize;
    f->options.photo_memory_limit_bytes = static_cast<int64_t>(f->photo_memory_gb * (1 << 30));
    data::synthesize_dataset(f->options);
  });
}

void register_cache(CLI::App& data, std::shared_ptr<CacheFlags> f) {
  auto* cmd = data.add_subcommand("cache",
                                  "Decode and resize a dataset once into a decoded cache "
                                  "file (memory-mapped by the loader)");
  cmd->add_option("path", f->path, "dataset folder or .csv manifest")->required();
  cmd->add_option("--out", f->out_path, "cache file to write")->required();
  cmd->add_option("--size", f->transform.image_size_px, "image side in pixels (default 224)")
      ->check(CLI::Range(8, 4096));
  cmd->add_option("--mode", f->mode,
                  "resize (whole image, default), center-crop (short side to --resize, then crop) "
                  "or native-center (center crop at native resolution)")
      ->check(CLI::IsMember({"resize", "center-crop", "native-center"}));
  cmd->add_option("--resize", f->transform.resize_px,
                  "short side before a center crop (default 256)");
  cmd->add_option("--threads", f->threads, "decoding threads (default: all cores)")
      ->check(CLI::PositiveNumber);
  cmd->callback([f] {
    f->transform.size_mode = f->mode == "resize"        ? data::SizeMode::kResize
                             : f->mode == "center-crop" ? data::SizeMode::kCenterCrop
                                                        : data::SizeMode::kNativeCenter;
    Timer timer;
    data::CacheWriteStats stats = data::write_decoded_cache(data::load_dataset(f->path),
                                                            f->transform, f->out_path, f->threads);
    std::cout << fmt::format("{} records written to {} ({} skipped) in {:.1f} s\n", stats.written,
                             f->out_path, stats.skipped, timer.seconds());
  });
}

}  // namespace

void register_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Dataset tools: inspect, synth, cache");
  data->require_subcommand(1);
  register_inspect(*data, std::make_shared<InspectFlags>());
  register_synth(*data, std::make_shared<SynthFlags>());
  register_cache(*data, std::make_shared<CacheFlags>());
}

}  // namespace forensight::app
