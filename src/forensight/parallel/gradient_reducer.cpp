#include "forensight/parallel/gradient_reducer.h"

#include "forensight/core/error.h"
#include "forensight/core/timer.h"

namespace forensight::parallel {

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> parameters,
                                 const GradientReducerOptions& options)
    : group_(group), options_(options), parameters_(std::move(parameters)) {
  FS_CHECK(options.first_bucket_bytes > 0 && options.bucket_bytes > 0,
           "gradient bucket sizes must be positive (got {} and {} bytes)",
           options.first_bucket_bytes, options.bucket_bytes);
  slots_.resize(parameters_.size());
  // One device and one dtype for every bucket: the first parameter's, checked against the rest.
  if (!parameters_.empty()) {
    device_ = parameters_.front().device();
    dtype_ = parameters_.front().scalar_type();
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const torch::Tensor& p = parameters_[i];
    FS_CHECK(p.device() == device_,
             "data parallelism needs every trainable parameter on one device; parameter {} is on "
             "{}, parameter 0 on {}",
             i, p.device().str(), device_.str());
    if (device_.is_cpu()) {
      FS_CHECK(p.scalar_type() == torch::kFloat32,
               "data parallelism over Gloo needs float32 CPU parameters; parameter {} is {} on {}",
               i, c10::toString(p.scalar_type()), p.device().str());
    } else {
      FS_CHECK(device_.is_cuda(),
               "data parallelism runs on CPU (Gloo) or CUDA (NCCL) parameters; parameter {} is "
               "on {}",
               i, p.device().str());
      const bool floating = p.scalar_type() == torch::kFloat32 ||
                            p.scalar_type() == torch::kBFloat16 ||
                            p.scalar_type() == torch::kFloat16;
      FS_CHECK(floating && p.scalar_type() == dtype_,
               "data parallelism over NCCL needs CUDA parameters of one dtype, float32, bfloat16 "
               "or float16; parameter {} is {}, parameter 0 is {}",
               i, c10::toString(p.scalar_type()), c10::toString(dtype_));
    }
  }
  // Reverse registration order: the head's gradients come first out of backward.
  int64_t bucket_bytes = 0;
  int64_t bucket_numel = 0;
  for (int64_t i = static_cast<int64_t>(parameters_.size()) - 1; i >= 0; --i) {
    const torch::Tensor& p = parameters_[i];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    // The current bucket is the first while there is one: it closes at first_bucket_bytes, every
    // later one at bucket_bytes. A parameter larger than the cap gets a bucket of its own.
    const int64_t cap = buckets_.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes;
    if (buckets_.empty() || (bucket_bytes > 0 && bucket_bytes + bytes > cap)) {
      buckets_.emplace_back();
      bucket_bytes = 0;
      bucket_numel = 0;
    }
    Bucket& bucket = buckets_.back();
    slots_[i] = Slot{static_cast<int64_t>(buckets_.size()) - 1, bucket_numel, p.numel(), 0};
    bucket.params.push_back(i);
    bucket_bytes += bytes;
    bucket_numel += p.numel();
  }
  for (Bucket& bucket : buckets_) {
    int64_t numel = 0;
    for (int64_t i : bucket.params) numel += slots_[i].numel;
    bucket.flat = torch::zeros({numel}, torch::TensorOptions().dtype(dtype_).device(device_));
  }
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const int64_t index = static_cast<int64_t>(i);
    parameters_[i].register_hook(
        [this, index](const torch::Tensor& grad) { on_gradient(index, grad); });
  }
}

std::vector<std::vector<int64_t>> GradientReducer::bucket_layout() const {
  std::vector<std::vector<int64_t>> layout;
  for (const Bucket& bucket : buckets_) layout.push_back(bucket.params);
  return layout;
}

void GradientReducer::begin_step(int backward_passes) {
  FS_CHECK(backward_passes >= 1, "backward passes per step must be >= 1, got {}", backward_passes);
  std::lock_guard<std::mutex> lock(mutex_);
  backward_passes_ = backward_passes;
  for (Slot& slot : slots_) slot.arrivals = 0;
  for (Bucket& bucket : buckets_) {
    bucket.pending = static_cast<int64_t>(bucket.params.size()) * backward_passes;
    bucket.launched = false;
  }
  in_step_ = true;
}

void GradientReducer::on_gradient(int64_t index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!in_step_) return;  // a backward outside training (a test, a probe): nothing to sync
  Slot& slot = slots_[index];
  Bucket& bucket = buckets_[slot.bucket];
  // The flat slice viewed as the parameter's shape: copy_ converts a channels-last gradient.
  torch::Tensor view =
      bucket.flat.narrow(0, slot.offset, slot.numel).view(parameters_[index].sizes());
  torch::NoGradGuard no_grad;
  if (slot.arrivals == 0)
    view.copy_(grad);
  else
    view.add_(grad);
  ++slot.arrivals;
  if (--bucket.pending == 0 && options_.overlap) launch(bucket);
}

void GradientReducer::launch(Bucket& bucket) {
  bucket.launched = true;
  bucket.work = group_.allreduce_sum_async(bucket.flat);
}

GradientSyncStats GradientReducer::finish_step() {
  GradientSyncStats stats;
  Timer timer;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    FS_CHECK(in_step_, "GradientReducer::finish_step() without begin_step()");
    in_step_ = false;
    for (Bucket& bucket : buckets_) {
      if (bucket.launched) continue;
      // Parameters that took no part in this step's graph contribute zero, as with DDP's
      // find_unused_parameters; every rank must launch every bucket in the same order.
      for (int64_t i : bucket.params)
        if (slots_[i].arrivals == 0)
          bucket.flat.narrow(0, slots_[i].offset, slots_[i].numel).zero_();
      launch(bucket);
    }
  }
  const double inv_world = 1.0 / group_.size();
  torch::NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    bucket.work.wait();
    bucket.flat.mul_(inv_world);
    stats.bytes += bucket.flat.numel() * static_cast<int64_t>(bucket.flat.element_size());
    for (int64_t i : bucket.params) {
      torch::Tensor& p = parameters_[i];
      torch::Tensor mean = bucket.flat.narrow(0, slots_[i].offset, slots_[i].numel).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(mean);
      else
        p.mutable_grad() = mean.clone(at::MemoryFormat::Preserve);
    }
  }
  stats.buckets = static_cast<int64_t>(buckets_.size());
  stats.exposed_seconds = timer.seconds();
  return stats;
}

}  // namespace forensight::parallel
