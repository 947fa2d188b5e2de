// The generator families of the built-in dataset ("forensight data synth --families"): small
// encoder-decoders that differ in how they upsample and finish an image, because the traces an
// upsampler leaves between neighbouring pixels are what detectors such as NPR (Tan et al., CVPR
// 2024) see, and a detector trained on one family meets the others as unseen generators.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace forensight::data {

enum class GeneratorFamily {
  kTransposedConv,  // stride-2 transposed convolutions (DCGAN, CycleGAN): checkerboard
  kNearestConv,     // nearest-neighbour x2 then a 3x3 convolution (StyleGAN's "resize-convolution")
  kBilinearConv,    // bilinear x2 then a 3x3 convolution
  kPixelShuffle,    // a 3x3 convolution to 4x the channels, then sub-pixel shuffle (ESPCN)
  kFirConv,         // zeros inserted, a fixed [1,3,3,1] low-pass, then a 3x3 conv (StyleGAN2)
  kDiffusion,       // a denoiser applied for a few steps to a noise-perturbed input (SDEdit)
};

// Every family, in the order `--families all` uses.
const std::vector<GeneratorFamily>& all_generator_families();
// The name `--families` and the CSV's source column use, e.g. "transposed-conv".
std::string generator_family_name(GeneratorFamily family);
// "all" or a comma-separated list of names (blanks ignored, duplicates dropped, order kept).
// Throws Error naming the unknown entry and listing the valid names.
std::vector<GeneratorFamily> parse_generator_families(std::string_view list);

// One family's network with its optimiser: randomly initialised from `rng`, fitted to reconstruct
// photograph crops, then used to re-synthesise them. Not copyable (it owns the optimiser's state).
class FamilyGenerator {
 public:
  FamilyGenerator(GeneratorFamily family, torch::Generator& rng);
  ~FamilyGenerator();
  FamilyGenerator(const FamilyGenerator&) = delete;
  FamilyGenerator& operator=(const FamilyGenerator&) = delete;
  FamilyGenerator(FamilyGenerator&&) noexcept;
  FamilyGenerator& operator=(FamilyGenerator&&) noexcept;

  GeneratorFamily family() const { return family_; }

  // One Adam step teaching the network to reconstruct `clean`, (B, 3, C, C) float in [-1, 1], C a
  // multiple of 4; the diffusion family draws its noise from `rng`. Returns the L1 loss.
  double fit_step(const torch::Tensor& clean, torch::Generator& rng);

  // Re-synthesises `image`, (1, 3, H, W) float in [-1, 1] with H and W multiples of 4, into a
  // tensor of the same shape; the diffusion family draws its starting noise from `rng`.
  torch::Tensor synthesize(const torch::Tensor& image, torch::Generator& rng);

 private:
  struct Impl;
  GeneratorFamily family_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace forensight::data
