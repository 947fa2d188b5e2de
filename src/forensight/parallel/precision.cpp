#include "forensight/parallel/precision.h"

#include <spdlog/spdlog.h>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "forensight/core/cpu_info.h"
#include "forensight/core/error.h"

namespace forensight::parallel {
namespace {

constexpr const char* kAmpChoices = "off, bf16, fp16";

at::ScalarType dtype_of(AmpMode mode) {
  switch (mode) {
    case AmpMode::kBf16:
      return at::kBFloat16;
    case AmpMode::kFp16:
      return at::kHalf;
    case AmpMode::kOff:
      break;
  }
  return at::kFloat;
}

// Autocast's thread-local switch for one device type, entered and left as PyTorch's
// torch.autocast does: the nesting count decides who clears the cache of casted weights.
struct AutocastState {
  bool enabled;
  at::ScalarType dtype;
};

AutocastState enter_autocast(c10::DeviceType device_type, at::ScalarType dtype) {
  const AutocastState previous{at::autocast::is_autocast_enabled(device_type),
                               at::autocast::get_autocast_dtype(device_type)};
  at::autocast::set_autocast_enabled(device_type, true);
  at::autocast::set_autocast_dtype(device_type, dtype);
  at::autocast::increment_nesting();
  return previous;
}

void leave_autocast(c10::DeviceType device_type, const AutocastState& previous) {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type, previous.enabled);
  at::autocast::set_autocast_dtype(device_type, previous.dtype);
}

// Whether autocast on this device type really casts a matmul to `dtype`: LibTorch's CPU autocast
// gained float16 late (2.4-2.5), and an older build silently runs such a matmul in fp32 or bf16.
bool autocast_casts_to(const torch::Device& device, at::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const AutocastState previous = enter_autocast(device.type(), dtype);
  at::ScalarType produced = at::kFloat;
  try {
    const auto a = torch::ones({2, 2}, torch::TensorOptions().device(device));  // (2, 2) float
    produced = torch::mm(a, a).scalar_type();
  } catch (const c10::Error&) {
    produced = at::kFloat;  // the op has no kernel for the dtype: not supported either
  }
  leave_autocast(device.type(), previous);
  return produced == dtype;
}

void check_options(const PrecisionOptions& o) {
  FS_CHECK(std::isfinite(o.init_scale) && o.init_scale > 0,
           "precision: init_scale must be a positive number, got {}", o.init_scale);
  FS_CHECK(std::isfinite(o.growth_factor) && o.growth_factor > 1,
           "precision: growth_factor must be > 1, got {}", o.growth_factor);
  FS_CHECK(o.backoff_factor > 0 && o.backoff_factor < 1,
           "precision: backoff_factor must be in (0, 1), got {}", o.backoff_factor);
  FS_CHECK(o.growth_interval >= 1, "precision: growth_interval must be >= 1, got {}",
           o.growth_interval);
  if (o.mode == AmpMode::kOff) return;
  const c10::DeviceType type = o.device.type();
  FS_CHECK(type == c10::DeviceType::CPU || type == c10::DeviceType::CUDA,
           "--amp {} runs on cpu or cuda devices, got '{}'; use --amp off there",
           amp_mode_name(o.mode), o.device.str());
  FS_CHECK(at::autocast::is_autocast_available(type),
           "--amp {}: this LibTorch has no autocast for '{}'; use --amp off", amp_mode_name(o.mode),
           o.device.str());
  if (type == c10::DeviceType::CPU)
    FS_CHECK(autocast_casts_to(o.device, dtype_of(o.mode)),
             "--amp {}: this LibTorch's CPU autocast does not compute in {} (LibTorch {}.{}); use "
             "--amp bf16 or --amp off on the CPU",
             amp_mode_name(o.mode), c10::toString(dtype_of(o.mode)), TORCH_VERSION_MAJOR,
             TORCH_VERSION_MINOR);
}

}  // namespace

AmpMode parse_amp_mode(const std::string& name) {
  if (name == "off") return AmpMode::kOff;
  if (name == "bf16") return AmpMode::kBf16;
  if (name == "fp16") return AmpMode::kFp16;
  fail("unknown --amp mode '{}': expected one of {}", name, kAmpChoices);
}

std::string amp_mode_name(AmpMode mode) {
  switch (mode) {
    case AmpMode::kOff:
      return "off";
    case AmpMode::kBf16:
      return "bf16";
    case AmpMode::kFp16:
      return "fp16";
  }
  return "off";
}

AutocastGuard::AutocastGuard(const Precision& precision) {
  if (precision.mode() == AmpMode::kOff) return;
  device_type_ = precision.options().device.type();
  const AutocastState previous = enter_autocast(device_type_, precision.autocast_dtype());
  previous_enabled_ = previous.enabled;
  previous_dtype_ = previous.dtype;
  active_ = true;
}

AutocastGuard::~AutocastGuard() {
  if (active_) leave_autocast(device_type_, {previous_enabled_, previous_dtype_});
}

Precision::Precision(const PrecisionOptions& options) : options_(options) {
  check_options(options_);
  // The scaler's tensors live where the gradients are only when there is a scaler to run.
  const torch::Device where = uses_loss_scaler() ? options_.device : torch::Device(torch::kCPU);
  scale_ = torch::full({1}, options_.init_scale, torch::dtype(torch::kFloat32).device(where));
  growth_tracker_ = torch::zeros({1}, torch::dtype(torch::kInt32).device(where));
  found_inf_ = torch::zeros({1}, torch::dtype(torch::kFloat32).device(where));
  if (options_.mode == AmpMode::kFp16 && options_.device.is_cpu())
    spdlog::warn(
        "--amp fp16 on the CPU: LibTorch has no fast fp16 convolutions here (measured "
        "~60x slower than fp32 for ResNet18); bf16 is the CPU's reduced precision");
  if (options_.mode == AmpMode::kBf16 && options_.device.is_cpu() && !cpu_info().has_bf16())
    spdlog::warn(
        "--amp bf16 on a CPU without bf16 instructions ({}): {}; --amp off is the fast choice "
        "on this CPU",
        cpu_info().summary(), emulated_bf16_cost());
}

nlohmann::json Precision::step_record(bool stepped) const {
  if (!uses_loss_scaler()) return nlohmann::json::object();
  return {{"loss_scale", scaler_state().scale}, {"step_skipped", !stepped}};
}

nlohmann::json Precision::epoch_record(int64_t skipped_steps) const {
  if (!uses_loss_scaler()) return nlohmann::json::object();
  return {{"loss_scale", scaler_state().scale}, {"skipped_steps", skipped_steps}};
}

at::ScalarType Precision::autocast_dtype() const {
  return dtype_of(options_.mode);
}

torch::Tensor Precision::scale_loss(const torch::Tensor& loss) const {
  if (!uses_loss_scaler()) return loss;
  return loss.to(torch::kFloat32) * scale_.to(loss.device()).squeeze(0);  // ()
}

bool Precision::unscale_and_check(const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  found_inf_.zero_();
  // GradScaler's reciprocal: in double, then float, so that 1/scale is as exact as it can be.
  const torch::Tensor inv_scale = scale_.to(torch::kFloat64).reciprocal().to(torch::kFloat32);
  // The fused kernel takes one device and one dtype per call (and its found_inf on that device).
  std::map<std::pair<std::string, at::ScalarType>, std::vector<torch::Tensor>> groups;
  for (const auto& g : grads) {
    FS_CHECK(g.scalar_type() != at::kHalf,
             "--amp fp16 needs fp32 parameters (fp32 master weights): got a float16 gradient; "
             "keep the model in fp32 and let autocast cast the ops");
    groups[{g.device().str(), g.scalar_type()}].push_back(g);
  }
  for (auto& [key, group] : groups) {
    const torch::Device device = group.front().device();
    if (device == found_inf_.device()) {
      at::_amp_foreach_non_finite_check_and_unscale_(group, found_inf_, inv_scale);
    } else {  // a model placed over several devices: one flag per device, summed here
      auto found = torch::zeros({1}, torch::dtype(torch::kFloat32).device(device));
      at::_amp_foreach_non_finite_check_and_unscale_(group, found, inv_scale.to(device));
      found_inf_.add_(found.to(found_inf_.device()));
    }
  }
  // The one read-back of the step: whether to skip it. GradScaler pays the same.
  return found_inf_.item<float>() == 0.0f;
}

bool Precision::step(torch::optim::Optimizer& optimizer,
                     const std::vector<torch::Tensor>& parameters, double clip_norm) {
  bool finite = true;
  if (uses_loss_scaler()) {
    std::vector<torch::Tensor> grads;
    grads.reserve(parameters.size());
    for (const auto& p : parameters)
      if (p.grad().defined()) grads.push_back(p.grad());
    finite = unscale_and_check(grads);
  }
  if (finite) {
    if (clip_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, clip_norm);
    optimizer.step();
  } else {
    ++skipped_steps_;
  }
  if (uses_loss_scaler()) {
    torch::NoGradGuard no_grad;
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, options_.growth_factor,
                           options_.backoff_factor, options_.growth_interval);
  }
  return finite;
}

LossScalerState Precision::scaler_state() const {
  return {scale_.item<double>(), static_cast<int64_t>(growth_tracker_.item<int32_t>())};
}

void Precision::load_scaler_state(const LossScalerState& state) {
  FS_CHECK(std::isfinite(state.scale) && state.scale > 0,
           "loss scaler state: the scale must be a positive number, got {}", state.scale);
  FS_CHECK(state.growth_tracker >= 0 && state.growth_tracker <= INT32_MAX,
           "loss scaler state: the growth tracker must be a non-negative int32, got {}",
           state.growth_tracker);
  torch::NoGradGuard no_grad;
  scale_.fill_(state.scale);
  growth_tracker_.fill_(static_cast<int32_t>(state.growth_tracker));
}

}  // namespace forensight::parallel
