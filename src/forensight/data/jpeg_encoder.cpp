// tjCompress2 into a buffer TurboJPEG allocates, copied out and released by an RAII guard.
#include "forensight/data/jpeg_encoder.h"

#include <turbojpeg.h>

#include <memory>

#include "forensight/core/error.h"
#include "forensight/data/turbojpeg_handle.h"

namespace forensight::data {
namespace {
struct TjFree {
  void operator()(unsigned char* p) const { tjFree(p); }
};
}  // namespace

std::vector<uint8_t> encode_jpeg(const Image& in, const JpegEncodeOptions& options) {
  FS_CHECK(options.quality >= 1 && options.quality <= 100, "JPEG quality must be in 1..100, got {}",
           options.quality);
  FS_CHECK(in.width > 0 && in.height > 0 &&
               in.pixels.size() == static_cast<size_t>(in.width) * in.height * 3,
           "cannot encode a {}x{} image holding {} bytes", in.width, in.height, in.pixels.size());
  int subsamp = options.subsampling == ChromaSubsampling::k444   ? TJSAMP_444
                : options.subsampling == ChromaSubsampling::k420 ? TJSAMP_420
                                                                 : TJSAMP_GRAY;
  int flags = options.progressive ? TJFLAG_PROGRESSIVE : 0;
  tjhandle handle = thread_jpeg_compressor(subsamp);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(handle, in.pixels.data(), in.width, /*pitch=*/0, in.height, TJPF_RGB,
                       &buffer, &size, subsamp, options.quality, flags);
  std::unique_ptr<unsigned char, TjFree> owner(buffer);
  if (rc != 0) fail("JPEG encoding failed: {}", tjGetErrorStr2(handle));
  return std::vector<uint8_t>(buffer, buffer + size);
}

}  // namespace forensight::data
