// The per-sample transform: size (resize, or crop at native resolution), then blur, JPEG
// re-compression and flip. The augmentations run on the output-size image rather than the full
// decode (CNNDetection applies them before cropping) because that is 10-100x cheaper per sample.
// Every sample consumes the same seven draws from rng whatever the options, so turning one
// augmentation on does not reshuffle the crops of the others.
#include "forensight/data/transform.h"

#include <algorithm>
#include <cmath>

#include "forensight/core/error.h"
#include "forensight/data/blur.h"
#include "forensight/data/image_decoder.h"
#include "forensight/data/jpeg_encoder.h"
#include "forensight/data/resize.h"

namespace forensight::data {
namespace {

// Uniform in [0, 1) from the top 53 bits: the same on every standard library, unlike
// std::uniform_real_distribution.
double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int uniform_int(std::mt19937_64& rng, int lo, int hi) {  // inclusive
  return lo + static_cast<int>(uniform01(rng) * (hi - lo + 1));
}

void validate(const TransformOptions& o) {
  FS_CHECK(o.image_size_px > 0, "image_size_px must be positive, got {}", o.image_size_px);
  FS_CHECK(o.size_mode != SizeMode::kCenterCrop || o.resize_px >= o.image_size_px,
           "resize_px ({}) must be >= image_size_px ({}) for a center crop", o.resize_px,
           o.image_size_px);
  for (double p : {o.hflip_prob, o.blur_prob, o.jpeg_prob})
    FS_CHECK(p >= 0.0 && p <= 1.0, "augmentation probabilities must be in [0, 1], got {}", p);
  FS_CHECK(o.blur_sigma_min >= 0.0 && o.blur_sigma_min <= o.blur_sigma_max,
           "blur sigma range must satisfy 0 <= min <= max, got [{}, {}]", o.blur_sigma_min,
           o.blur_sigma_max);
  FS_CHECK(o.jpeg_quality_min >= 1 && o.jpeg_quality_min <= o.jpeg_quality_max &&
               o.jpeg_quality_max <= 100,
           "JPEG quality range must satisfy 1 <= min <= max <= 100, got [{}, {}]",
           o.jpeg_quality_min, o.jpeg_quality_max);
}

Image crop(const Image& in, int x0, int y0, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    std::copy_n(in.row(y0 + y) + static_cast<size_t>(x0) * 3, static_cast<size_t>(width) * 3,
                out.row(y));
  return out;
}

// torchvision's CenterCrop offsets: int(round((size - crop) / 2.0)), round half to even.
Image center_crop(const Image& in, int side) {
  int x0 = static_cast<int>(std::nearbyint((in.width - side) / 2.0));
  int y0 = static_cast<int>(std::nearbyint((in.height - side) / 2.0));
  return crop(in, x0, y0, side, side);
}

// Native crops need at least side x side pixels; a smaller image is resized up to that first.
Image at_least(const Image& in, int side) {
  if (in.width >= side && in.height >= side) return in;
  return resize_short_side(in, side);
}

void flip_horizontal(Image& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* row = image.row(y);
    for (int l = 0, r = image.width - 1; l < r; ++l, --r)
      std::swap_ranges(row + l * 3, row + l * 3 + 3, row + r * 3);
  }
}

// The degradation acts on the full-resolution image, as it would on its way to a platform.
Image degrade(const Image& in, const Degradation& d) {
  Image out = in;
  if (d.downscale < 1.0)
    out = resize_bilinear_antialias(
        out, std::max(1, static_cast<int>(std::lround(in.width * d.downscale))),
        std::max(1, static_cast<int>(std::lround(in.height * d.downscale))));
  if (d.blur_sigma > 0.0) out = gaussian_blur(out, d.blur_sigma);
  if (d.jpeg_quality > 0) {
    JpegEncodeOptions jpeg;
    jpeg.quality = d.jpeg_quality;
    out = decode_image(encode_jpeg(out, jpeg));
  }
  return out;
}

}  // namespace

int decode_min_side_px(const TransformOptions& options) {
  if (options.degradation.active()) return 0;  // degrade the full-resolution image
  switch (options.size_mode) {
    case SizeMode::kResize:
      return options.image_size_px;
    case SizeMode::kCenterCrop:
      return options.resize_px;
    case SizeMode::kRandomCrop:
    case SizeMode::kNativeCenter:
      return 0;
  }
  return 0;
}

Image apply_transform(const Image& in, const TransformOptions& options, std::mt19937_64& rng) {
  validate(options);
  FS_CHECK(in.width > 0 && in.height > 0, "cannot transform an empty {}x{} image", in.width,
           in.height);
  const int side = options.image_size_px;

  // Seven draws, always in this order (see the file comment).
  const double crop_x = uniform01(rng), crop_y = uniform01(rng);
  const bool blur = uniform01(rng) < options.blur_prob;
  const double sigma =
      options.blur_sigma_min + uniform01(rng) * (options.blur_sigma_max - options.blur_sigma_min);
  const bool recompress = uniform01(rng) < options.jpeg_prob;
  const int quality = uniform_int(rng, options.jpeg_quality_min, options.jpeg_quality_max);
  const bool flip = uniform01(rng) < options.hflip_prob;

  Image degraded;
  if (options.degradation.active()) {
    FS_CHECK(options.degradation.downscale > 0.0 && options.degradation.downscale <= 1.0,
             "downscale factor must be in (0, 1], got {}", options.degradation.downscale);
    degraded = degrade(in, options.degradation);
  }
  const Image& source_image = options.degradation.active() ? degraded : in;

  Image out;
  switch (options.size_mode) {
    case SizeMode::kResize:
      out = resize_bilinear_antialias(source_image, side, side);
      break;
    case SizeMode::kCenterCrop:
      out = center_crop(resize_short_side(source_image, options.resize_px), side);
      break;
    case SizeMode::kRandomCrop: {
      Image source = at_least(source_image, side);
      int x0 = static_cast<int>(crop_x * (source.width - side + 1));
      int y0 = static_cast<int>(crop_y * (source.height - side + 1));
      out = crop(source, x0, y0, side, side);
      break;
    }
    case SizeMode::kNativeCenter:
      out = center_crop(at_least(source_image, side), side);
      break;
  }
  if (blur) out = gaussian_blur(out, sigma);
  if (recompress) {
    JpegEncodeOptions jpeg;
    jpeg.quality = quality;
    out = decode_image(encode_jpeg(out, jpeg));
  }
  if (flip) flip_horizontal(out);
  return out;
}

}  // namespace forensight::data
