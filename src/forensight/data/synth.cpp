// The built-in generator. The fake class follows AutoGAN (Zhang, Karaman & Chang, "Detecting and
// Simulating Artifacts in GAN Fake Images", 2019): pass real images through a generator's
// upsampling path and the output carries its spectral fingerprint. Each family's generator is a
// genuine encoder-decoder (generator_family.h), randomly initialised from the seed and fitted for a
// few dozen Adam steps on CPU to reconstruct photo crops, so its output looks like the photo and
// differs from it in the traces its upsampling leaves.
#include "forensight/data/synth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "forensight/core/error.h"
#include "forensight/core/timer.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/jpeg_encoder.h"
#include "forensight/data/resize.h"

namespace forensight::data {
namespace {

namespace fs = std::filesystem;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

Image crop_square(const Image& in, int side, std::mt19937_64& rng) {
  const Image* source = &in;
  Image enlarged;
  if (in.width < side || in.height < side) {
    enlarged = resize_short_side(in, side);
    source = &enlarged;
  }
  int x0 = static_cast<int>(rng() % static_cast<uint64_t>(source->width - side + 1));
  int y0 = static_cast<int>(rng() % static_cast<uint64_t>(source->height - side + 1));
  Image out;
  out.width = out.height = side;
  out.pixels.resize(static_cast<size_t>(side) * side * 3);
  for (int y = 0; y < side; ++y)
    std::copy_n(source->row(y0 + y) + static_cast<size_t>(x0) * 3, static_cast<size_t>(side) * 3,
                out.row(y));
  return out;
}

torch::Tensor to_tensor(const Image& image) {  // -> (3, H, W) float in [-1, 1]
  torch::Tensor hwc = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                                       {image.height, image.width, 3}, torch::kUInt8);
  return hwc.permute({2, 0, 1}).to(torch::kFloat32).div(127.5).sub(1.0);
}

Image to_image(const torch::Tensor& chw) {  // (3, H, W) float in [-1, 1] -> Image
  torch::Tensor hwc = chw.add(1.0)
                          .mul(127.5)
                          .round()
                          .clamp(0, 255)
                          .to(torch::kUInt8)
                          .permute({1, 2, 0})
                          .contiguous();
  Image image;
  image.height = static_cast<int>(hwc.size(0));
  image.width = static_cast<int>(hwc.size(1));
  image.pixels.assign(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
  return image;
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write '{}'", path.string());
}

void validate(const SynthOptions& o) {
  FS_CHECK(!o.out_dir.empty(), "synth needs an output folder (--out DIR)");
  FS_CHECK(o.count >= 2, "count must be >= 2 (half real, half fake), got {}", o.count);
  FS_CHECK(o.size_px >= 32 && o.size_px <= 2048, "size must be in 32..2048 pixels, got {}",
           o.size_px);
  FS_CHECK(o.quality >= 1 && o.quality <= 100, "quality must be in 1..100, got {}", o.quality);
  FS_CHECK(o.fit_steps >= 0 && o.fit_batch >= 1 && o.fit_crop_px >= 16 && o.fit_crop_px % 4 == 0,
           "fitting needs steps >= 0, batch >= 1 and a crop side >= 16 divisible by 4; got {}, "
           "{}, {}",
           o.fit_steps, o.fit_batch, o.fit_crop_px);
  FS_CHECK(!o.families.empty(), "synth needs at least one generator family (--families)");
}

// A CSV field, quoted when it holds a comma, a quote or a line break (a user's folder name can).
std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

struct LoadedPhotoSet {
  std::string name;
  std::vector<Image> photos;
};

// Decodes every photograph of every set once: in resize mode DCT-scaled to a short side >=
// max(size, 1024), which bounds memory and time for the 5640x3172 ones while keeping crops well
// inside a real photograph; in native mode at full size.
std::vector<LoadedPhotoSet> load_photo_sets(const SynthOptions& options) {
  std::vector<LoadedPhotoSet> loaded;
  int64_t decoded_bytes = 0;
  for (const PhotoSet& set : resolve_photo_sets(options.photos)) {
    LoadedPhotoSet photos{set.name, {}};
    for (const std::string& path : set.files) {
      DecodeOptions decode;
      if (options.crop_mode == SynthCropMode::kResize)
        decode.min_side_px = std::max(options.size_px, 1024);
      try {
        photos.photos.push_back(decode_image_file(path, decode));
      } catch (const DecodeError& e) {
        spdlog::warn("synth: skipping photograph {}", e.what());
        continue;
      }
      decoded_bytes += static_cast<int64_t>(photos.photos.back().pixels.size());
      if (decoded_bytes > options.photo_memory_limit_bytes)
        fail(
            "the photographs decoded so far (up to '{}') take {} MiB, over the limit of {} MiB for "
            "holding them in memory: use --crop-mode resize, fewer or smaller photographs, or "
            "raise --photo-memory-gb",
            path, decoded_bytes >> 20, options.photo_memory_limit_bytes >> 20);
    }
    FS_CHECK(!photos.photos.empty(), "none of the photographs of set '{}' could be decoded",
             set.name);
    loaded.push_back(std::move(photos));
  }
  spdlog::info("synth: {} photograph sets decoded ({:.2f} GiB in memory, {} crops)", loaded.size(),
               static_cast<double>(decoded_bytes) / kGiB,
               options.crop_mode == SynthCropMode::kNative ? "native" : "resize");
  return loaded;
}

}  // namespace

SynthStats synthesize_dataset(const SynthOptions& options) {
  validate(options);
  Timer timer;
  SynthStats stats;
  std::mt19937_64 rng(options.seed);
  torch::Generator torch_rng = at::detail::createCPUGenerator(options.seed);

  // 1. Photographs. With one set no draw picks the set, so a one-set, one-family run consumes the
  //    random streams as `data synth` always has and writes the same files for a seed.
  const std::vector<LoadedPhotoSet> sets = load_photo_sets(options);
  auto random_photo = [&](size_t set) -> const Image& {
    const std::vector<Image>& photos = sets[set % sets.size()].photos;
    return photos[rng() % photos.size()];
  };

  // 2. Fit each family's generator to reconstruct crops: in resize mode downscaled by 2 (the
  //    generator sees photo-like content at a cheap size), in native mode at native pixels.
  std::vector<FamilyGenerator> generators;
  for (GeneratorFamily family : options.families) {
    Timer fit_timer;
    SynthFamilyStats family_stats;
    family_stats.family = generator_family_name(family);
    generators.emplace_back(family, torch_rng);
    for (int step = 0; step < options.fit_steps; ++step) {
      std::vector<torch::Tensor> crops;
      for (int b = 0; b < options.fit_batch; ++b) {
        const Image& photo = random_photo(static_cast<size_t>(step * options.fit_batch + b));
        if (options.crop_mode == SynthCropMode::kNative) {
          crops.push_back(to_tensor(crop_square(photo, options.fit_crop_px, rng)));
        } else {
          Image crop = crop_square(photo, options.fit_crop_px * 2, rng);
          crops.push_back(
              to_tensor(resize_bilinear_antialias(crop, options.fit_crop_px, options.fit_crop_px)));
        }
      }
      // (B, 3, C, C)
      family_stats.fit_loss = generators.back().fit_step(torch::stack(crops), torch_rng);
    }
    family_stats.fit_seconds = fit_timer.seconds();
    spdlog::info("synth: {} generator fitted in {} steps ({:.1f} s), L1 reconstruction loss {:.4f}",
                 family_stats.family, options.fit_steps, family_stats.fit_seconds,
                 family_stats.fit_loss);
    stats.fit_loss = std::max(stats.fit_loss, family_stats.fit_loss);
    stats.families.push_back(std::move(family_stats));
  }

  // 3. Both classes, interleaved so that a prefix of the set stays balanced: real i from photo set
  //    i, fake i from family i, each family cycling through the photo sets (so that no family is
  //    tied to one set when their counts share a factor).
  const fs::path out(options.out_dir);
  fs::create_directories(out / "0_real");
  fs::create_directories(out / "1_fake");
  JpegEncodeOptions jpeg;
  jpeg.quality = options.quality;
  const int per_class = options.count / 2;
  const int padded = (options.size_px + 3) / 4 * 4;
  const size_t n_families = generators.size();
  std::string csv = ",file_name,label,source\n";
  int64_t row = 0;
  for (int i = 0; i < per_class; ++i) {
    const size_t index = static_cast<size_t>(i);
    std::string real_name = fmt::format("0_real/real_{:05d}.jpg", i);
    write_file(out / real_name,
               encode_jpeg(crop_square(random_photo(index), options.size_px, rng), jpeg));
    csv += fmt::format("{},{},0,{}\n", row++, real_name, csv_field(sets[index % sets.size()].name));

    Timer fake_timer;
    FamilyGenerator& generator = generators[index % n_families];
    torch::Tensor x =
        to_tensor(crop_square(random_photo(index / n_families), options.size_px, rng)).unsqueeze(0);
    if (padded != options.size_px)  // (1, 3, S, S) -> (1, 3, P, P), P a multiple of 4
      x = torch::reflection_pad2d(x, {0, padded - options.size_px, 0, padded - options.size_px});
    torch::Tensor y = generator.synthesize(x, torch_rng)[0]
                          .narrow(1, 0, options.size_px)
                          .narrow(2, 0, options.size_px);
    std::string fake_name = fmt::format("1_fake/fake_{:05d}.jpg", i);
    write_file(out / fake_name, encode_jpeg(to_image(y), jpeg));
    SynthFamilyStats& family_stats = stats.families[index % n_families];
    csv += fmt::format("{},{},1,{}\n", row++, fake_name, family_stats.family);
    ++family_stats.images;
    family_stats.synth_seconds += fake_timer.seconds();
  }
  stats.real = stats.fake = per_class;
  stats.csv_path = (out / "train.csv").string();
  std::ofstream csv_file(stats.csv_path);
  csv_file << csv;
  if (!csv_file) fail("cannot write '{}'", stats.csv_path);
  stats.seconds = timer.seconds();
  for (const SynthFamilyStats& family : stats.families)
    spdlog::info(
        "synth: {:<16} {:>6} images, fitting {:.1f} s, re-synthesis {:.1f} s ({:.1f} ms/image)",
        family.family, family.images, family.fit_seconds, family.synth_seconds,
        family.images > 0 ? 1000.0 * family.synth_seconds / static_cast<double>(family.images)
                          : 0.0);
  spdlog::info(
      "synth: wrote {} real ({} photograph sets) and {} fake ({} families) {}x{} JPEGs (quality "
      "{}, {} crops) to {} in {:.1f} s",
      stats.real, sets.size(), stats.fake, n_families, options.size_px, options.size_px,
      options.quality, options.crop_mode == SynthCropMode::kNative ? "native" : "resize",
      options.out_dir, stats.seconds);
  return stats;
}

}  // namespace forensight::data
