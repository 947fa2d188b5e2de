#include "forensight/train/lr_schedule.h"

#include <gtest/gtest.h>

#include "forensight/core/error.h"

namespace forensight::train {

TEST(LrScheduleTest, WarmupRampsLinearlyToBaseRate) {
  ScheduleOptions o{.kind = ScheduleKind::kConstant, .lr = 1.0, .warmup_steps = 4};
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 3), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 100), 1.0);
}

TEST(LrScheduleTest, CosineGoesFromBaseToMinimum) {
  ScheduleOptions o{.kind = ScheduleKind::kCosine, .lr = 1.0, .lr_min = 0.1, .total_steps = 101};
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0), 1.0);
  EXPECT_NEAR(learning_rate_at(o, 50), 0.55, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 100), 0.1, 1e-12);
  EXPECT_NEAR(learning_rate_at(o, 500), 0.1, 1e-12);
}

TEST(LrScheduleTest, StepDecaysEveryNEpochs) {
  ScheduleOptions o{.kind = ScheduleKind::kStep,
                    .lr = 1.0,
                    .steps_per_epoch = 10,
                    .step_size_epochs = 2,
                    .step_gamma = 0.5};
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 19), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 20), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 45), 0.25);
}

TEST(LrScheduleTest, UnknownScheduleListsValidOnes) {
  try {
    parse_schedule_kind("linear");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("constant, step, cosine"), std::string::npos);
  }
}

}  // namespace forensight::train
