// The one collective that code below parallel/ may need from a distributed job: an in-place sum of
// a tensor over its processes. models/ uses it for synchronised BatchNorm statistics without
// depending on parallel/ (which implements it on its process group).
#pragma once
#include <torch/torch.h>

namespace forensight {

class SumAcrossProcesses {
 public:
  virtual ~SumAcrossProcesses() = default;
  // Every process calls it in the same order with a tensor of the same shape and dtype; on return
  // each holds the element-wise sum of all of them.
  virtual void allreduce_sum(torch::Tensor& tensor) = 0;
  virtual int world_size() const = 0;
};

}  // namespace forensight
