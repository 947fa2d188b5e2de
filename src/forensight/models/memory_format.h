// Which of the two dense layouts a 4-d activation is in. Our CPU kernels (conv3x3.h,
// batch_norm_relu.h) read both; a tensor that is both at once (1x1 planes, or one channel) has the
// same bytes either way and is read as NCHW.
#pragma once
#include <ATen/core/Tensor.h>

namespace forensight::models {

// NCHW or NHWC with no gaps: what the kernels can read.
inline bool is_dense_nchw_or_nhwc(const at::Tensor& t) {
  return t.is_contiguous() || t.is_contiguous(at::MemoryFormat::ChannelsLast);
}

// NHWC and not also NCHW.
inline bool is_channels_last(const at::Tensor& t) {
  return t.is_contiguous(at::MemoryFormat::ChannelsLast) && !t.is_contiguous();
}

}  // namespace forensight::models
