// The families share one encoder (two stride-2 convolutions, a 4x bottleneck) and differ only in
// the two x2 upsampling stages of the decoder, and for the diffusion family in the iterative
// finish, so that what tells them apart is the upsampling trace rather than capacity. The
// transposed-convolution family is the generator `data synth` has always used, parameter for
// parameter, so its output for a seed is unchanged.
#include "forensight/data/generator_family.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "forensight/core/error.h"

namespace forensight::data {
// Named, not anonymous: FamilyGenerator::Impl (a member of an exported class) holds a FamilyNet,
// and gcc warns (-Wsubobject-linkage) when such a member's type has internal linkage in a file that
// is not the translation unit's main file, as in a unity batch.
namespace generator_family_detail {

namespace nn = torch::nn;

// The diffusion family's noise levels (images in [-1, 1]): fitted on the whole range, sampled by
// starting at the first and stepping down; 0 ends on the denoiser's clean estimate.
constexpr double kFitSigmaMin = 0.02;
constexpr double kFitSigmaMax = 0.5;
constexpr std::array<double, 5> kSampleSigmas = {0.4, 0.25, 0.12, 0.05, 0.0};

// StyleGAN2's upfirdn2d with up=2: zeros between the samples, then the separable [1,3,3,1]
// low-pass with gain 4 (one sample in four is non-zero). (B, C, H, W) -> (B, C, 2H, 2W).
torch::Tensor upsample_fir(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  torch::Tensor z = torch::stack({x, torch::zeros_like(x)}, -1).reshape({b, c, h, 2 * w});
  z = torch::stack({z, torch::zeros_like(z)}, 3).reshape({b, c, 2 * h, 2 * w});
  torch::Tensor taps = torch::tensor({1.0f, 3.0f, 3.0f, 1.0f}, x.options());
  torch::Tensor kernel = (torch::outer(taps, taps) * (4.0 / 64.0)).expand({c, 1, 4, 4});
  z = torch::constant_pad_nd(z, {2, 1, 2, 1});  // StyleGAN2's pad for up=2, 4 taps
  return torch::nn::functional::conv2d(z, kernel.contiguous(),
                                       torch::nn::functional::Conv2dFuncOptions().groups(c));
}

// One x2 upsampling stage of a family's decoder. (B, in, H, W) -> (B, out, 2H, 2W).
struct UpStageImpl : nn::Module {
  UpStageImpl(GeneratorFamily family, int in, int out) : family(family) {
    if (family == GeneratorFamily::kTransposedConv) {
      tconv = register_module(
          "tconv",
          nn::ConvTranspose2d(
              nn::ConvTranspose2dOptions(in, out, /*kernel_size=*/4).stride(2).padding(1)));
    } else {
      // Sub-pixel convolution makes the 4 sub-positions' values as 4x the channels.
      const int conv_out = family == GeneratorFamily::kPixelShuffle ? out * 4 : out;
      conv = register_module(
          "conv", nn::Conv2d(nn::Conv2dOptions(in, conv_out, /*kernel_size=*/3).padding(1)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    namespace F = nn::functional;
    switch (family) {
      case GeneratorFamily::kTransposedConv:
        return tconv(x);
      case GeneratorFamily::kPixelShuffle:
        return torch::pixel_shuffle(conv(x), /*upscale_factor=*/2);
      case GeneratorFamily::kBilinearConv:
        return conv(F::interpolate(x, F::InterpolateFuncOptions()
                                          .scale_factor(std::vector<double>{2.0, 2.0})
                                          .mode(torch::kBilinear)
                                          .align_corners(false)));
      case GeneratorFamily::kFirConv:
        return conv(upsample_fir(x));
      case GeneratorFamily::kNearestConv:
      case GeneratorFamily::kDiffusion:  // as Stable Diffusion's UNet and VAE decoder upsample
        return conv(F::interpolate(x, F::InterpolateFuncOptions()
                                          .scale_factor(std::vector<double>{2.0, 2.0})
                                          .mode(torch::kNearest)));
    }
    fail("unhandled generator family {}", static_cast<int>(family));
  }

  GeneratorFamily family;
  nn::ConvTranspose2d tconv{nullptr};
  nn::Conv2d conv{nullptr};
};
TORCH_MODULE(UpStage);

// Encoder-decoder with a 4x bottleneck. The diffusion family's input has a fourth channel, the
// noise level, so that one network denoises at every step. (B, 3 or 4, H, W) float -> (B, 3, H, W)
// in [-1, 1], H and W multiples of 4.
struct FamilyNetImpl : nn::Module {
  explicit FamilyNetImpl(GeneratorFamily family)
      : down1(nn::Conv2dOptions(family == GeneratorFamily::kDiffusion ? 4 : 3, 16,
                                /*kernel_size=*/4)
                  .stride(2)
                  .padding(1)),
        down2(nn::Conv2dOptions(16, 32, /*kernel_size=*/4).stride(2).padding(1)),
        up1(family, 32, 16),
        up2(family, 16, 3) {
    register_module("down1", down1);
    register_module("down2", down2);
    register_module("up1", up1);
    register_module("up2", up2);
  }

  torch::Tensor forward(torch::Tensor x) {  // (B, 3 or 4, H, W)
    x = torch::leaky_relu(down1(x), 0.2);   // (B, 16, H/2, W/2)
    x = torch::leaky_relu(down2(x), 0.2);   // (B, 32, H/4, W/4)
    x = torch::relu(up1(x));                // (B, 16, H/2, W/2)
    return torch::tanh(up2(x));             // (B, 3, H, W)
  }

  // PyTorch's default bound 1/sqrt(fan_in), drawn from `rng` instead of the global generator
  // (for a transposed convolution, whose weight is (in, out, k, k), the bound uses `out`, as the
  // original generator did).
  void initialise(torch::Generator& rng) {
    torch::NoGradGuard no_grad;
    for (auto& p : parameters()) {
      if (p.dim() > 1) {
        double fan_in = static_cast<double>(p.size(1) * p.size(2) * p.size(3));
        p.uniform_(-1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in), rng);
      } else {
        p.uniform_(-0.05, 0.05, rng);
      }
    }
  }

  nn::Conv2d down1, down2;
  UpStage up1, up2;
};
TORCH_MODULE(FamilyNet);

}  // namespace generator_family_detail
using namespace generator_family_detail;

const std::vector<GeneratorFamily>& all_generator_families() {
  static const std::vector<GeneratorFamily> families = {
      GeneratorFamily::kTransposedConv, GeneratorFamily::kNearestConv,
      GeneratorFamily::kBilinearConv,   GeneratorFamily::kPixelShuffle,
      GeneratorFamily::kFirConv,        GeneratorFamily::kDiffusion};
  return families;
}

std::string generator_family_name(GeneratorFamily family) {
  switch (family) {
    case GeneratorFamily::kTransposedConv:
      return "transposed-conv";
    case GeneratorFamily::kNearestConv:
      return "nearest-conv";
    case GeneratorFamily::kBilinearConv:
      return "bilinear-conv";
    case GeneratorFamily::kPixelShuffle:
      return "pixel-shuffle";
    case GeneratorFamily::kFirConv:
      return "fir-conv";
    case GeneratorFamily::kDiffusion:
      return "diffusion";
  }
  fail("unhandled generator family {}", static_cast<int>(family));
}

std::vector<GeneratorFamily> parse_generator_families(std::string_view list) {
  std::vector<std::string> valid;
  for (GeneratorFamily f : all_generator_families()) valid.push_back(generator_family_name(f));
  std::vector<GeneratorFamily> families;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string_view entry = list.substr(start, end - start);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.front())))
      entry.remove_prefix(1);
    while (!entry.empty() && std::isspace(static_cast<unsigned char>(entry.back())))
      entry.remove_suffix(1);
    start = end + 1;
    if (entry.empty()) continue;
    if (entry == "all") {
      for (GeneratorFamily f : all_generator_families())
        if (std::find(families.begin(), families.end(), f) == families.end()) families.push_back(f);
      continue;
    }
    auto it = std::find(valid.begin(), valid.end(), entry);
    if (it == valid.end())
      fail("unknown generator family '{}': valid families are {} (or all)", entry,
           fmt::join(valid, ", "));
    GeneratorFamily f = all_generator_families()[static_cast<size_t>(it - valid.begin())];
    if (std::find(families.begin(), families.end(), f) == families.end()) families.push_back(f);
  }
  if (families.empty())
    fail("no generator family given: name one or more of {} (comma-separated), or all",
         fmt::join(valid, ", "));
  return families;
}

struct FamilyGenerator::Impl {
  explicit Impl(GeneratorFamily family, torch::Generator& rng) : net(family) {
    net->initialise(rng);
    optimizer =
        std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(2e-3));
  }

  // The diffusion family's denoiser: the clean estimate of `noisy`, (B, 3, H, W), at the noise
  // level `sigma`, (B, 1, 1, 1).
  torch::Tensor denoise(const torch::Tensor& noisy, const torch::Tensor& sigma) {
    torch::Tensor level = sigma.expand({noisy.size(0), 1, noisy.size(2), noisy.size(3)});
    return net->forward(torch::cat({noisy, level}, 1));
  }

  FamilyNet net;
  std::unique_ptr<torch::optim::Adam> optimizer;
};

FamilyGenerator::FamilyGenerator(GeneratorFamily family, torch::Generator& rng)
    : family_(family), impl_(std::make_unique<Impl>(family, rng)) {}
FamilyGenerator::~FamilyGenerator() = default;
FamilyGenerator::FamilyGenerator(FamilyGenerator&&) noexcept = default;
FamilyGenerator& FamilyGenerator::operator=(FamilyGenerator&&) noexcept = default;

double FamilyGenerator::fit_step(const torch::Tensor& clean, torch::Generator& rng) {
  FS_CHECK(
      clean.dim() == 4 && clean.size(1) == 3 && clean.size(2) % 4 == 0 && clean.size(3) % 4 == 0,
      "{} fitting needs (B, 3, H, W) crops with H and W multiples of 4, got ({})",
      generator_family_name(family_), fmt::join(clean.sizes(), ", "));
  impl_->net->train();
  torch::Tensor output;
  if (family_ == GeneratorFamily::kDiffusion) {
    torch::Tensor sigma =
        torch::rand({clean.size(0), 1, 1, 1}, rng) * (kFitSigmaMax - kFitSigmaMin) + kFitSigmaMin;
    torch::Tensor noise = torch::randn(clean.sizes(), rng);
    output = impl_->denoise(clean + sigma * noise, sigma);
  } else {
    output = impl_->net->forward(clean);
  }
  torch::Tensor loss = torch::l1_loss(output, clean);
  impl_->optimizer->zero_grad();
  loss.backward();
  impl_->optimizer->step();
  return loss.item<double>();
}

torch::Tensor FamilyGenerator::synthesize(const torch::Tensor& image, torch::Generator& rng) {
  FS_CHECK(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 3 && image.size(2) % 4 == 0 &&
               image.size(3) % 4 == 0,
           "{} needs a (1, 3, H, W) image with H and W multiples of 4, got ({})",
           generator_family_name(family_), fmt::join(image.sizes(), ", "));
  torch::NoGradGuard no_grad;
  impl_->net->eval();
  if (family_ != GeneratorFamily::kDiffusion) return impl_->net->forward(image);
  // SDEdit-style: perturb the photograph, then walk the noise down with deterministic DDIM steps,
  // each re-estimating the clean image and keeping the direction of the remaining noise.
  torch::Tensor x = image + kSampleSigmas[0] * torch::randn(image.sizes(), rng);
  torch::Tensor estimate;
  for (size_t k = 0; k + 1 < kSampleSigmas.size(); ++k) {
    torch::Tensor sigma = torch::full({1, 1, 1, 1}, kSampleSigmas[k]);
    estimate = impl_->denoise(x, sigma);
    x = estimate + (kSampleSigmas[k + 1] / kSampleSigmas[k]) * (x - estimate);
  }
  return estimate;
}

}  // namespace forensight::data
