// The precision policy: fp32, or bf16 / fp16 autocast around the forward pass, with a dynamic loss
// scaler for fp16 (PyTorch's GradScaler, on the same ATen kernels). The trainer asks it to do its
// part at fixed points of the step — scale the loss before backward, unscale, check, clip and step
// after it — and never branches on the mode itself.
//
// The weights stay fp32 ("master weights"): autocast casts the inputs of the ops on its lists
// (convolutions, matmuls, linear) to the reduced dtype, so activations and their gradients are
// reduced while every parameter, its gradient and the optimiser's state stay fp32. BatchNorm keeps
// fp32 parameters and statistics, and the trainer computes the loss on `logits.float()`.
//
// On the CPU, bf16 runs oneDNN's bf16 kernels (fast where the CPU has AVX-512 BF16 or AMX, slower
// than fp32 on plain AVX2). fp16 works on the CPU but its convolutions fall to reference kernels:
// a ResNet18 step was ~60x slower than fp32 on the dev VM, so fp16 is a GPU mode in practice.
// ResNet's hand-written CPU kernels (models/conv3x3, batch_norm_relu, max_pool) take float32 only;
// under autocast their inputs arrive reduced and they hand over to LibTorch's ops.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace forensight::parallel {

enum class AmpMode { kOff, kBf16, kFp16 };

// "off" | "bf16" | "fp16"; anything else throws Error naming the value and the choices.
AmpMode parse_amp_mode(const std::string& name);
std::string amp_mode_name(AmpMode mode);

// The loss scaler's state, as a checkpoint keeps it so that a resumed fp16 run does not start
// again from the initial scale (and overflow its first steps back down to where it was).
struct LossScalerState {
  double scale = 65536.0;      // current loss scale
  int64_t growth_tracker = 0;  // consecutive clean (all-finite) steps since the last change
};

struct PrecisionOptions {
  AmpMode mode = AmpMode::kOff;
  torch::Device device = torch::kCPU;  // where the model runs: autocast is per device type
  double init_scale = 65536.0;         // fp16's first loss scale, 2^16 (> 0)
  double growth_factor = 2.0;          // scale x this after growth_interval clean steps (> 1)
  double backoff_factor = 0.5;     // scale x this, step skipped, on an inf/NaN gradient (0 < b < 1)
  int64_t growth_interval = 2000;  // clean steps before the scale grows (>= 1)
};

class Precision;

// Enables autocast for the precision's device type (CPU or CUDA) with its mode's dtype, on the
// calling thread only (autocast state is thread-local: a forward pass on another thread needs its
// own guard). On exit it restores the previous enabled flag and dtype and, when it was the
// outermost guard, clears autocast's cache of weight casts (they would be stale after the
// optimiser step). A no-op for AmpMode::kOff.
class AutocastGuard {
 public:
  explicit AutocastGuard(const Precision& precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  AutocastGuard(AutocastGuard&&) = delete;
  AutocastGuard& operator=(AutocastGuard&&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_ = c10::DeviceType::CPU;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

class Precision {
 public:
  // Throws Error on options out of range, on a device type autocast does not run on, and on fp16
  // where this LibTorch's autocast cannot produce it (checked with a probe matmul).
  explicit Precision(const PrecisionOptions& options);

  AmpMode mode() const { return options_.mode; }
  const PrecisionOptions& options() const { return options_; }
  // The dtype autocast casts to: bf16 or fp16; float32 when off.
  at::ScalarType autocast_dtype() const;
  bool uses_loss_scaler() const { return options_.mode == AmpMode::kFp16; }

  // loss: () -> (); fp16: loss * scale, as float; otherwise the loss itself.
  torch::Tensor scale_loss(const torch::Tensor& loss) const;

  // The step phase, after backward:
  //  1. (fp16) unscales every defined gradient of `parameters` in place and checks them for
  //     inf/NaN (at::_amp_foreach_non_finite_check_and_unscale_);
  //  2. clips the global gradient norm to clip_norm when clip_norm > 0 — after unscaling, so the
  //     threshold means the same in every mode;
  //  3. optimizer.step(), unless a gradient was non-finite;
  //  4. (fp16) updates the scale as GradScaler does (at::_amp_update_scale_): x backoff_factor on
  //     a non-finite step, x growth_factor after growth_interval clean ones.
  // Returns true when the optimiser stepped, false when the step was skipped. Without a scaler
  // (off, bf16) nothing is checked and it always steps: bf16 has fp32's range, and the trainer's
  // divergence check on the loss covers a real blow-up.
  bool step(torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& parameters,
            double clip_norm);

  LossScalerState scaler_state() const;
  // Throws Error when the state is not a positive finite scale and a non-negative tracker.
  void load_scaler_state(const LossScalerState& state);
  // Steps skipped for non-finite gradients since construction.
  int64_t skipped_steps() const { return skipped_steps_; }
  // What a step's and an epoch's metrics record adds: the loss scale and the steps an inf/NaN
  // skipped, with a scaler; nothing without one.
  nlohmann::json step_record(bool stepped) const;
  nlohmann::json epoch_record(int64_t skipped_steps) const;

 private:
  // Unscales and checks the gradients; true when every one of them is finite.
  bool unscale_and_check(const std::vector<torch::Tensor>& grads);

  PrecisionOptions options_;
  // fp16 only. On the device, so that scaling the loss and updating the scale never wait for it;
  // only the skip decision (and scaler_state) reads it back.
  torch::Tensor scale_;           // (1) float32
  torch::Tensor growth_tracker_;  // (1) int32, as _amp_update_scale_ wants it
  torch::Tensor found_inf_;       // (1) float32: 1 when the last unscale saw inf/NaN
  int64_t skipped_steps_ = 0;
};

}  // namespace forensight::parallel
