// libwebp decoding straight into the Image's buffer (no intermediate copy); libwebp keeps no state
// between calls, so no handle needs to be owned.
#include "forensight/data/webp_decoder.h"

#include <webp/decode.h>

#include "forensight/core/error.h"

namespace forensight::data {

ImageInfo read_webp_info(std::span<const uint8_t> bytes) {
  int width = 0, height = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &width, &height))
    throw DecodeError("bad WebP header");
  return {ImageFormat::kWebp, width, height};
}

Image decode_webp(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  ImageInfo info = read_webp_info(bytes);
  int64_t declared = static_cast<int64_t>(info.width) * info.height;
  if (declared > options.max_pixels)
    throw DecodeError(fmt::format("WebP declares {}x{} = {} pixels, over the limit of {}",
                                  info.width, info.height, declared, options.max_pixels));
  Image image;
  image.width = info.width;
  image.height = info.height;
  image.pixels.resize(static_cast<size_t>(declared) * 3);
  if (WebPDecodeRGBInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(),
                        image.width * 3) == nullptr)
    throw DecodeError("corrupt or truncated WebP data");
  return image;
}

}  // namespace forensight::data
