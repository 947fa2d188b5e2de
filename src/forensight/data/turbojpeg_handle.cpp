// Per-thread TurboJPEG handles: thread_local owners, so a handle is never shared between threads
// (TurboJPEG handles are not thread-safe) and is released when its thread ends.
#include "forensight/data/turbojpeg_handle.h"

#include "forensight/core/error.h"

namespace forensight::data {

TurboJpegHandle::TurboJpegHandle(Kind kind)
    : kind_(kind), handle_(kind == Kind::kDecompress ? tjInitDecompress() : tjInitCompress()) {
  if (handle_ == nullptr)
    fail("cannot create a TurboJPEG {} handle: {}",
         kind == Kind::kDecompress ? "decompressor" : "compressor", tjGetErrorStr2(nullptr));
}

TurboJpegHandle::~TurboJpegHandle() {
  if (handle_ != nullptr) tjDestroy(handle_);
}

void TurboJpegHandle::reset() {
  if (handle_ != nullptr) tjDestroy(handle_);
  handle_ = kind_ == Kind::kDecompress ? tjInitDecompress() : tjInitCompress();
  if (handle_ == nullptr) fail("cannot recreate a TurboJPEG handle: {}", tjGetErrorStr2(nullptr));
}

namespace {
TurboJpegHandle& decompressor() {
  thread_local TurboJpegHandle handle(TurboJpegHandle::Kind::kDecompress);
  return handle;
}
}  // namespace

tjhandle thread_jpeg_decompressor() {
  return decompressor().get();
}
void reset_thread_jpeg_decompressor() {
  decompressor().reset();
}

tjhandle thread_jpeg_compressor(int subsampling) {
  thread_local TurboJpegHandle handle(TurboJpegHandle::Kind::kCompress);
  thread_local int last_subsampling = -1;
  if (last_subsampling != -1 && last_subsampling != subsampling) handle.reset();
  last_subsampling = subsampling;
  return handle.get();
}

}  // namespace forensight::data
