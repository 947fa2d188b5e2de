// Writes the seeds whose format only Forensight's own writers know: split files (save_split, for
// the dataset fuzz_split checks against), decoded caches (write_decoded_cache of a few tiny
// images) and checkpoints (save_checkpoint of fuzz_checkpoint's model). Usage: make_seeds
// CORPUS_DIR (fuzz/corpus); fuzz/make_seeds.py writes the others.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "forensight/core/error.h"
#include "forensight/data/decoded_cache.h"
#include "forensight/data/png_encoder.h"
#include "forensight/data/split.h"
#include "forensight/train/checkpoint.h"
#include "fuzz_checkpoint_model.h"
#include "fuzz_split_dataset.h"

namespace fs = std::filesystem;
using namespace forensight;

namespace {

void write_splits(const fs::path& dir) {
  fs::create_directories(dir);
  const data::Dataset dataset = fuzz::split_dataset();
  for (const char* spec : {"0.5/0.25/0.25", "6/3/3", "4"}) {
    data::Split split = data::make_split(dataset, data::parse_split_spec(spec), /*seed=*/7);
    std::string name = std::string("split-") + spec + ".json";
    for (char& c : name)
      if (c == '/') c = '_';
    data::save_split(split, dataset, (dir / name).string());
  }
}

void write_caches(const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path images = fs::temp_directory_path() / "forensight-fuzz-seed-images";
  fs::create_directories(images);
  data::Dataset dataset;
  dataset.root = images.string();
  for (int i = 0; i < 3; ++i) {
    data::Image image;
    image.width = 6 + i;
    image.height = 5;
    image.pixels.resize(static_cast<size_t>(image.width) * image.height * 3);
    for (size_t k = 0; k < image.pixels.size(); ++k)
      image.pixels[k] = static_cast<uint8_t>(k * 37 + i);
    const std::vector<uint8_t> png = data::encode_png(image);
    const fs::path path = images / (std::to_string(i) + ".png");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    dataset.samples.push_back({path.string(), i == 2 ? data::kLabelUnknown : i % 2, "", ""});
  }
  for (int side : {2, 4}) {
    data::TransformOptions transform;
    transform.image_size_px = side;
    data::write_decoded_cache(dataset, transform,
                              (dir / ("cache-" + std::to_string(side) + "px.fsdc")).string(),
                              /*threads=*/1);
  }
  fs::remove_all(images);
}

void write_checkpoints(const fs::path& dir) {
  fs::create_directories(dir);
  torch::manual_seed(5);
  fuzz::CheckpointModel model;
  train::Checkpoint checkpoint;
  checkpoint.config_json = R"({"model":"resnet18","epochs":2})";
  checkpoint.progress.epoch = 1;
  checkpoint.progress.step = 12;
  checkpoint.int8_ranges = torch::rand({3, 2}, torch::kFloat64);
  checkpoint.world_size = 2;
  // One seed: the smallest checkpoint is 12 KiB (LibTorch's archive aligns every record to 64
  // bytes and the CPU generator's state alone is 5 KiB), past the few KiB other seeds keep to.
  train::save_checkpoint((dir / "int8-ranges.pt").string(), *model, nullptr, checkpoint);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  try {
    write_splits(fs::path(argv[1]) / "split");
    write_caches(fs::path(argv[1]) / "decoded_cache");
    write_checkpoints(fs::path(argv[1]) / "checkpoint");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
