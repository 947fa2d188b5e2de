#include "forensight/train/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace forensight::train {
namespace {
std::string format_duration(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60)
                   : fmt::format("{}m{:02}s", s / 60, s % 60);
}
}  // namespace

ProgressBar::ProgressBar(int64_t total_steps, int64_t log_every_steps)
    : total_steps_(std::max<int64_t>(1, total_steps)),
      log_every_steps_(std::max<int64_t>(1, log_every_steps)),
      tty_(::isatty(STDERR_FILENO) != 0) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::update(int64_t epoch, int64_t step, double loss, double images_per_second) {
  if (first_step_ < 0) {
    first_step_ = step - 1;
    timer_.reset();
  }
  const double done = static_cast<double>(step - first_step_);
  const double eta = done > 0 ? timer_.seconds() / done * (total_steps_ - step) : 0.0;
  const double fraction = std::min(1.0, static_cast<double>(step) / total_steps_);
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] epoch %lld step %lld/%lld loss %.4f %.1f img/s ETA %s  ",
                 bar.c_str(), static_cast<long long>(epoch + 1), static_cast<long long>(step),
                 static_cast<long long>(total_steps_), loss, images_per_second,
                 format_duration(eta).c_str());
    std::fflush(stderr);
    open_line_ = true;
  } else if (step % log_every_steps_ == 0 || step == total_steps_) {
    spdlog::info("epoch {} step {}/{} loss {:.4f} {:.1f} img/s ETA {}", epoch + 1, step,
                 total_steps_, loss, images_per_second, format_duration(eta));
  }
}

void ProgressBar::finish() {
  if (open_line_) {
    std::fprintf(stderr, "\n");
    open_line_ = false;
  }
}

}  // namespace forensight::train
