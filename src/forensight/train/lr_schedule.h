// Learning-rate schedules as a pure function of the optimiser step: constant, step decay per epoch,
// cosine to lr_min; each after an optional linear warm-up. Being a function of the step alone,
// a resumed run needs only the step count to continue the schedule exactly.
#pragma once
#include <cstdint>
#include <string>

namespace forensight::train {

enum class ScheduleKind { kConstant, kStep, kCosine };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  double lr = 1e-3;               // base learning rate
  double lr_min = 0.0;            // cosine floor
  int64_t warmup_steps = 0;       // linear ramp from lr/warmup_steps to lr
  int64_t total_steps = 1;        // cosine horizon (steps of the whole run)
  int64_t steps_per_epoch = 1;    // step schedule's epoch length
  int64_t step_size_epochs = 10;  // step schedule: decay period
  double step_gamma = 0.1;        // step schedule: decay factor
};

// Throws Error listing constant, step, cosine.
ScheduleKind parse_schedule_kind(const std::string& name);

// Learning rate for the optimiser step `step` (0-based).
double learning_rate_at(const ScheduleOptions& options, int64_t step);

}  // namespace forensight::train
