// The built-in generator. The fake class follows AutoGAN (Zhang, Karaman & Chang, "Detecting and
// Simulating Artifacts in GAN Fake Images", 2019): pass real images through a generator's
// upsampling path and the output carries its spectral fingerprint — here the checkerboard of
// stride-2 transposed convolutions. The generator is a genuine encoder-decoder, randomly
// initialised from the seed and fitted for a few dozen Adam steps on CPU to reconstruct downscaled
// photo crops, so its output looks like the photo. The package's PNGs are rendered artwork, not
// photographs, so only its JPEGs serve as the real class.
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
namespace nn = torch::nn;

// Encoder-decoder with a 4x bottleneck: two stride-2 convolutions down, two stride-2 transposed
// convolutions (kernel 4) up. (B, 3, H, W) float in [-1, 1] -> (B, 3, H, W), H and W multiples
// of 4.
struct UpsamplingGeneratorImpl : nn::Module {
  UpsamplingGeneratorImpl()
      : down1(nn::Conv2dOptions(3, 16, /*kernel_size=*/4).stride(2).padding(1)),
        down2(nn::Conv2dOptions(16, 32, /*kernel_size=*/4).stride(2).padding(1)),
        up1(nn::ConvTranspose2dOptions(32, 16, /*kernel_size=*/4).stride(2).padding(1)),
        up2(nn::ConvTranspose2dOptions(16, 3, /*kernel_size=*/4).stride(2).padding(1)) {
    register_module("down1", down1);
    register_module("down2", down2);
    register_module("up1", up1);
    register_module("up2", up2);
  }

  torch::Tensor forward(torch::Tensor x) {  // (B, 3, H, W)
    x = torch::leaky_relu(down1(x), 0.2);   // (B, 16, H/2, W/2)
    x = torch::leaky_relu(down2(x), 0.2);   // (B, 32, H/4, W/4)
    x = torch::relu(up1(x));                // (B, 16, H/2, W/2)
    return torch::tanh(up2(x));             // (B, 3, H, W)
  }

  // PyTorch's default bound 1/sqrt(fan_in), drawn from `generator` instead of the global one.
  void initialise(torch::Generator& generator) {
    torch::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.dim() > 1) {
        double fan_in = static_cast<double>(p.size(1) * p.size(2) * p.size(3));
        p.uniform_(-1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in), generator);
      } else {
        p.uniform_(-0.05, 0.05, generator);
      }
    }
  }

  nn::Conv2d down1, down2;
  nn::ConvTranspose2d up1, up2;
};
TORCH_MODULE(UpsamplingGenerator);

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
}

}  // namespace

std::vector<std::string> find_photographs(const std::string& dir) {
  std::vector<std::string> photos;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (ext == ".jpg" || ext == ".jpeg") photos.push_back(entry.path().string());
    }
  }
  std::sort(photos.begin(), photos.end());
  if (photos.empty())
    fail(
        "no photographs (*.jpg) found under '{}': the real class comes from Debian's "
        "mate-backgrounds package (apt-get install mate-backgrounds), or pass another folder of "
        "photographs",
        dir);
  return photos;
}

SynthStats synthesize_dataset(const SynthOptions& options) {
  validate(options);
  Timer timer;
  SynthStats stats;
  std::mt19937_64 rng(options.seed);
  torch::Generator torch_rng = at::detail::createCPUGenerator(options.seed);

  // 1. Photographs, DCT-scaled on decode to a short side >= max(size, 1024): bounds memory and
  //    time for the 5640x3172 ones while keeping crops well inside a real photograph.
  std::vector<Image> photos;
  for (const std::string& path : find_photographs(options.photos_dir)) {
    DecodeOptions decode;
    decode.min_side_px = std::max(options.size_px, 1024);
    try {
      photos.push_back(decode_image_file(path, decode));
    } catch (const DecodeError& e) {
      spdlog::warn("synth: skipping photograph {}", e.what());
    }
  }
  FS_CHECK(!photos.empty(), "none of the photographs under '{}' could be decoded",
           options.photos_dir);
  auto random_photo = [&]() -> const Image& { return photos[rng() % photos.size()]; };

  // 2. Fit the generator to reconstruct downscaled crops.
  UpsamplingGenerator generator;
  generator->initialise(torch_rng);
  torch::optim::Adam optimizer(generator->parameters(), torch::optim::AdamOptions(2e-3));
  for (int step = 0; step < options.fit_steps; ++step) {
    std::vector<torch::Tensor> crops;
    for (int b = 0; b < options.fit_batch; ++b) {
      Image crop = crop_square(random_photo(), options.fit_crop_px * 2, rng);
      crops.push_back(
          to_tensor(resize_bilinear_antialias(crop, options.fit_crop_px, options.fit_crop_px)));
    }
    torch::Tensor batch = torch::stack(crops);  // (B, 3, C, C)
    torch::Tensor loss = torch::l1_loss(generator->forward(batch), batch);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    stats.fit_loss = loss.item<double>();
  }
  spdlog::info("synth: generator fitted in {} steps, L1 reconstruction loss {:.4f}",
               options.fit_steps, stats.fit_loss);
  generator->eval();

  // 3. Both classes, interleaved so that a prefix of the set stays balanced.
  const fs::path out(options.out_dir);
  fs::create_directories(out / "0_real");
  fs::create_directories(out / "1_fake");
  JpegEncodeOptions jpeg;
  jpeg.quality = options.quality;
  const int per_class = options.count / 2;
  const int padded = (options.size_px + 3) / 4 * 4;
  std::string csv = ",file_name,label\n";
  int64_t row = 0;
  torch::NoGradGuard no_grad;
  for (int i = 0; i < per_class; ++i) {
    std::string real_name = fmt::format("0_real/real_{:05d}.jpg", i);
    write_file(out / real_name,
               encode_jpeg(crop_square(random_photo(), options.size_px, rng), jpeg));
    csv += fmt::format("{},{},0\n", row++, real_name);

    torch::Tensor x = to_tensor(crop_square(random_photo(), options.size_px, rng)).unsqueeze(0);
    if (padded != options.size_px)  // (1, 3, S, S) -> (1, 3, P, P), P a multiple of 4
      x = torch::reflection_pad2d(x, {0, padded - options.size_px, 0, padded - options.size_px});
    torch::Tensor y =
        generator->forward(x)[0].narrow(1, 0, options.size_px).narrow(2, 0, options.size_px);
    std::string fake_name = fmt::format("1_fake/fake_{:05d}.jpg", i);
    write_file(out / fake_name, encode_jpeg(to_image(y), jpeg));
    csv += fmt::format("{},{},1\n", row++, fake_name);
  }
  stats.real = stats.fake = per_class;
  stats.csv_path = (out / "train.csv").string();
  std::ofstream csv_file(stats.csv_path);
  csv_file << csv;
  if (!csv_file) fail("cannot write '{}'", stats.csv_path);
  stats.seconds = timer.seconds();
  spdlog::info("synth: wrote {} real and {} fake {}x{} JPEGs (quality {}) to {} in {:.1f} s",
               stats.real, stats.fake, options.size_px, options.size_px, options.quality,
               options.out_dir, stats.seconds);
  return stats;
}

}  // namespace forensight::data
