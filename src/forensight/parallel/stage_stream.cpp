// Stage streams through c10's device-generic interfaces (stage_stream.h).
#include "forensight/parallel/stage_stream.h"

#include <c10/core/impl/VirtualGuardImpl.h>

namespace forensight::parallel {
namespace {

// The guard implementation of the stream's device type: CUDA's, registered by libtorch_cuda.
c10::impl::VirtualGuardImpl guard_of(const c10::Stream& stream) {
  return c10::impl::VirtualGuardImpl(stream.device_type());
}

}  // namespace

StageStream::StageStream(torch::Device device) {
  if (!device.is_cuda()) return;
  const c10::impl::VirtualGuardImpl cuda(c10::DeviceType::CUDA);
  stream_ = cuda.getStreamFromGlobalPool(device, /*isHighPriority=*/false);
}

std::shared_ptr<c10::Event> StageStream::record() const {
  if (!stream_) return nullptr;
  auto event = std::make_shared<c10::Event>(stream_->device_type());
  event->record(*stream_);
  return event;
}

void StageStream::wait(const std::shared_ptr<c10::Event>& ready) const {
  if (stream_ && ready) ready->block(*stream_);
}

void StageStream::wait_for_current() const {
  if (!stream_) return;
  c10::Event current_done(stream_->device_type());
  current_done.record(guard_of(*stream_).getStream(stream_->device()));
  current_done.block(*stream_);
}

void StageStream::make_current_wait() const {
  if (!stream_) return;
  c10::Event stage_done(stream_->device_type());
  stage_done.record(*stream_);
  stage_done.block(guard_of(*stream_).getStream(stream_->device()));
}

void StageStream::record_use(const torch::Tensor& tensor) const {
  if (!stream_ || !tensor.defined() || tensor.device() != stream_->device()) return;
  guard_of(*stream_).recordDataPtrOnStream(tensor.storage().data_ptr(), *stream_);
}

}  // namespace forensight::parallel
