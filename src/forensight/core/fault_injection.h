// Deliberate faults for the tests of what must survive them (a rank dying mid-run, a launcher's
// restart): set by environment variables that nothing sets in normal use.
//   FORENSIGHT_FAULT_KILL_AT_STEP=K   this process SIGKILLs itself after optimiser step K ...
//   FORENSIGHT_FAULT_KILL_RANK=R      ... when its RANK is R (default: any rank) ...
// ... and only on the first attempt of a launched group (TORCHELASTIC_RESTART_COUNT unset or 0),
// so that a restarted group runs through.
#pragma once
#include <cstdint>

namespace forensight {

class FaultInjection {
 public:
  // Reads the variables once; malformed values throw Error naming the variable.
  explicit FaultInjection(int rank);
  // Called after each optimiser step.
  void after_step(int64_t step) const;
  bool armed() const { return kill_at_step_ > 0; }

 private:
  int64_t kill_at_step_ = 0;
};

}  // namespace forensight
