// The per-sample transform: size (resize, or crop at native resolution), then blur, JPEG
// re-compression and flip. The augmentations run on the output-size image rather than the full
// decode (CNNDetection applies them before cropping) because that is 10-100x cheaper per sample.
// Every sample consumes the same seven draws from rng whatever the options, so turning one
// augmentation on does not reshuffle the crops of the others.
#include "forensight/data/transform.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

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
std::pair<int, int> center_crop_origin(int width, int height, int side) {
  return {static_cast<int>(std::nearbyint((width - side) / 2.0)),
          static_cast<int>(std::nearbyint((height - side) / 2.0))};
}

Image center_crop(const Image& in, int side) {
  const auto [x0, y0] = center_crop_origin(in.width, in.height, side);
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

// Every sample's random choices, drawn in this order (see the file comment).
struct Draws {
  double crop_x = 0, crop_y = 0;  // random crop position, fractions of the free range
  bool blur = false;
  double sigma = 0;
  bool recompress = false;
  int quality = 0;
  bool flip = false;
};

Draws draw(const TransformOptions& options, std::mt19937_64& rng) {
  Draws d;
  d.crop_x = uniform01(rng);
  d.crop_y = uniform01(rng);
  d.blur = uniform01(rng) < options.blur_prob;
  d.sigma =
      options.blur_sigma_min + uniform01(rng) * (options.blur_sigma_max - options.blur_sigma_min);
  d.recompress = uniform01(rng) < options.jpeg_prob;
  d.quality = uniform_int(rng, options.jpeg_quality_min, options.jpeg_quality_max);
  d.flip = uniform01(rng) < options.hflip_prob;
  return d;
}

// The transform with its random choices already made. in: (H, W, 3) uint8 -> (S, S, 3) uint8.
Image transform_drawn(const Image& in, const TransformOptions& options, const Draws& d) {
  const int side = options.image_size_px;

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
      int x0 = static_cast<int>(d.crop_x * (source.width - side + 1));
      int y0 = static_cast<int>(d.crop_y * (source.height - side + 1));
      out = crop(source, x0, y0, side, side);
      break;
    }
    case SizeMode::kNativeCenter:
      out = center_crop(at_least(source_image, side), side);
      break;
  }
  if (d.blur) out = gaussian_blur(out, d.sigma);
  if (d.recompress) {
    JpegEncodeOptions jpeg;
    jpeg.quality = d.quality;
    out = decode_image(encode_jpeg(out, jpeg));
  }
  if (d.flip) flip_horizontal(out);
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
  return transform_drawn(in, options, draw(options, rng));
}

void apply_transform_chw(const Image& in, const TransformOptions& options, std::mt19937_64& rng,
                         uint8_t* out) {
  validate(options);
  FS_CHECK(in.width > 0 && in.height > 0, "cannot transform an empty {}x{} image", in.width,
           in.height);
  const int side = options.image_size_px;
  const Draws d = draw(options, rng);
  const bool direct =
      !options.degradation.active() && !d.blur && !d.recompress &&
      (options.size_mode == SizeMode::kResize || options.size_mode == SizeMode::kCenterCrop);
  if (!direct) {
    Image image = transform_drawn(in, options, d);
    FS_CHECK(image.width == side && image.height == side,
             "transform produced {}x{}, expected {}x{}", image.width, image.height, side, side);
    copy_hwc_to_chw(image, out);
    return;
  }
  if (options.size_mode == SizeMode::kResize) {
    resize_bilinear_antialias_chw(in, side, side, out);
  } else {
    const auto [width, height] = short_side_size(in.width, in.height, options.resize_px);
    thread_local std::vector<uint8_t> resized;  // (3, height, width) uint8
    resized.resize(static_cast<size_t>(3) * width * height);
    resize_bilinear_antialias_chw(in, width, height, resized.data());
    const auto [x0, y0] = center_crop_origin(width, height, side);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < side; ++y)
        std::copy_n(&resized[(static_cast<size_t>(c) * height + y0 + y) * width + x0], side,
                    out + (static_cast<size_t>(c) * side + y) * side);
  }
  if (d.flip)
    for (int row = 0; row < 3 * side; ++row)
      std::reverse(out + static_cast<size_t>(row) * side,
                   out + static_cast<size_t>(row + 1) * side);
}

void copy_hwc_to_chw(const Image& image, uint8_t* out) {
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  const uint8_t* src = image.pixels.data();
  uint8_t* r = out;
  uint8_t* g = out + plane;
  uint8_t* b = out + 2 * plane;
  for (size_t i = 0; i < plane; ++i) {
    r[i] = src[3 * i];
    g[i] = src[3 * i + 1];
    b[i] = src[3 * i + 2];
  }
}

}  // namespace forensight::data
