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
  // Destroys the handle and creates a fresh one of the same kind.
  void reset();

 private:
  Kind kind_;
  tjhandle handle_ = nullptr;
};

// This thread's decompressor, created on first use and destroyed at thread exit. After a failed
// decode call reset_thread_jpeg_decompressor(), so no state of a bad file reaches the next one.
tjhandle thread_jpeg_decompressor();
void reset_thread_jpeg_decompressor();
// This thread's compressor for a TJSAMP_* subsampling. libjpeg-turbo 2.1's compressor keeps state
// from a grayscale encode that corrupts a following colour one, so the handle is recreated
// whenever the subsampling differs from the previous call's.
tjhandle thread_jpeg_compressor(int subsampling);

}  // namespace forensight::data
