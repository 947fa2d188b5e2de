// Progress display for long loops: a redrawn one-line bar (epoch, step, loss, images/s, ETA) on a
// terminal, plain log lines at a fixed step interval when stderr is a file or a pipe.
#pragma once
#include <cstdint>
#include <string>

#include "forensight/core/timer.h"

namespace forensight::train {

class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, int64_t log_every_steps);
  ~ProgressBar();
  void update(int64_t epoch, int64_t step, double loss, double images_per_second);
  void finish();  // ends the bar's line on a terminal

 private:
  int64_t total_steps_;
  int64_t log_every_steps_;
  int64_t first_step_ = -1;
  bool tty_;
  bool open_line_ = false;
  Timer timer_;
};

}  // namespace forensight::train
