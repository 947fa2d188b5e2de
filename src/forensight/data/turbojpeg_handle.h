// RAII owner of a TurboJPEG handle, plus the per-thread handles the decoder and encoder reuse.
// tjInitDecompress allocates a libjpeg context (~tens of KiB and a few microseconds); doing it per
// image at thousands of images per second is measurable, so each thread keeps one of each kind.
#pragma once
#include <turbojpeg.h>

namespace forensight::data {

class TurboJpegHandle {
 public:
  enum class Kind { kDecompress, kCompress };
  explicit TurboJpegHandle(Kind kind);
  ~TurboJpegHandle();
  TurboJpegHandle(const TurboJpegHandle&) = delete;
  TurboJpegHandle& operator=(const TurboJpegHandle&) = delete;
  TurboJpegHandle(TurboJpegHandle&&) = delete;
  TurboJpegHandle& operator=(TurboJpegHandle&&) = delete;

  tjhandle get() const { return handle_; }

 private:
  tjhandle handle_ = nullptr;
};

// This thread's decompressor / compressor, created on first use and destroyed at thread exit.
tjhandle thread_jpeg_decompressor();
tjhandle thread_jpeg_compressor();

}  // namespace forensight::data
