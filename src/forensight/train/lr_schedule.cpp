#include "forensight/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "forensight/core/error.h"

namespace forensight::train {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "step") return ScheduleKind::kStep;
  if (name == "cosine") return ScheduleKind::kCosine;
  fail("unknown learning-rate schedule '{}': valid schedules are constant, step, cosine", name);
}

double learning_rate_at(const ScheduleOptions& o, int64_t step) {
  if (o.warmup_steps > 0 && step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  switch (o.kind) {
    case ScheduleKind::kConstant:
      return o.lr;
    case ScheduleKind::kStep: {
      const int64_t epoch = step / std::max<int64_t>(1, o.steps_per_epoch);
      return o.lr * std::pow(o.step_gamma, epoch / std::max<int64_t>(1, o.step_size_epochs));
    }
    case ScheduleKind::kCosine: {
      // The last step (total_steps - 1) lands exactly on lr_min.
      const int64_t span = std::max<int64_t>(1, o.total_steps - o.warmup_steps - 1);
      const double t = std::clamp(static_cast<double>(step - o.warmup_steps) / span, 0.0, 1.0);
      return o.lr_min + 0.5 * (o.lr - o.lr_min) * (1.0 + std::cos(std::numbers::pi * t));
    }
  }
  return o.lr;
}

}  // namespace forensight::train
