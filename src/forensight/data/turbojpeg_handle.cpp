// Per-thread TurboJPEG handles: thread_local owners, so a handle is never shared between threads
// (TurboJPEG handles are not thread-safe) and is released when its thread ends.
#include "forensight/data/turbojpeg_handle.h"

#include "forensight/core/error.h"

namespace forensight::data {

TurboJpegHandle::TurboJpegHandle(Kind kind)
    : handle_(kind == Kind::kDecompress ? tjInitDecompress() : tjInitCompress()) {
  if (handle_ == nullptr)
    fail("cannot create a TurboJPEG {} handle: {}",
         kind == Kind::kDecompress ? "decompressor" : "compressor", tjGetErrorStr2(nullptr));
}

TurboJpegHandle::~TurboJpegHandle() {
  if (handle_ != nullptr) tjDestroy(handle_);
}

tjhandle thread_jpeg_decompressor() {
  thread_local TurboJpegHandle handle(TurboJpegHandle::Kind::kDecompress);
  return handle.get();
}

tjhandle thread_jpeg_compressor() {
  thread_local TurboJpegHandle handle(TurboJpegHandle::Kind::kCompress);
  return handle.get();
}

}  // namespace forensight::data
