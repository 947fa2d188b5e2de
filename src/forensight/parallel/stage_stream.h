// A pipeline stage's own CUDA stream (pipeline.h), and the events and allocator notes that order
// the hand-overs between stages once each works on a stream of its own.
//
// Why: on the device's one current stream, two stages on the same GPU serialise; on streams of
// their own, stage s's forward of micro-batch m+1 can run beside stage s+1's forward of m. The
// cost: ordering between stages is no longer the host's. Each hand-over is ordered by an event
// (the producer records it after enqueuing the work that writes the tensor, the consumer's stream
// waits on it before reading), and the caching allocator is told which other streams read a
// tensor, so that it does not hand the memory out again while they still do (PyTorch's
// Tensor.record_stream).
//
// Everything goes through c10's device-generic stream, event and guard interfaces: they live in
// libc10, a CPU library, and reach CUDA through the guard implementation that libtorch_cuda
// registers when core/cuda_runtime.h opens it, so nothing here links CUDA. On a CPU stage every
// call is a no-op.
#pragma once
#include <c10/core/Event.h>
#include <c10/core/Stream.h>
#include <torch/torch.h>

#include <memory>
#include <optional>

namespace forensight::parallel {

class StageStream {
 public:
  // CUDA: a stream from LibTorch's pool of `device` (consecutive calls get different streams);
  // CPU: none.
  explicit StageStream(torch::Device device);

  // For a c10::OptionalStreamGuard on the stage's thread: nullopt on the CPU.
  std::optional<c10::Stream> stream() const { return stream_; }

  // An event recorded on this stream after the work enqueued on it so far: what a consumer of
  // that work waits for. nullptr on the CPU.
  std::shared_ptr<c10::Event> record() const;
  // This stream's later work waits for `ready` (recorded on any CUDA stream, any GPU). A no-op on
  // the CPU and for nullptr.
  void wait(const std::shared_ptr<c10::Event>& ready) const;
  // This stream's later work waits for what the calling thread's current stream of the stage's
  // device has enqueued so far (the step's input, the previous optimiser step's weights).
  void wait_for_current() const;
  // The calling thread's current stream of the stage's device waits for this stream's work so
  // far (the step's outputs and gradients, before the caller reads them).
  void make_current_wait() const;
  // Notes that this stream reads `tensor`, which another stream allocated: its memory is not
  // reused before this stream's work so far is done. A no-op for tensors on another device.
  void record_use(const torch::Tensor& tensor) const;

 private:
  std::optional<c10::Stream> stream_;
};

}  // namespace forensight::parallel
