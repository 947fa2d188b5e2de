// Deliberate faults for the tests of what must survive them (a rank dying mid-run, a launcher's
// restart, a kill or a full disk while a checkpoint is written): set by environment variables
// that nothing sets in normal use.
//   FORENSIGHT_FAULT_KILL_AT_STEP=K   this process SIGKILLs itself after optimiser step K ...
//   FORENSIGHT_FAULT_KILL_RANK=R      ... when its RANK is R (default: any rank)
//   FORENSIGHT_FAULT_HANG_AT_STEP=K   this process sleeps forever after optimiser step K (a hung
//   FORENSIGHT_FAULT_HANG_RANK=R      rank: its peers wait in their next collective) ... on RANK R
// Faults in the durable write path (core/atomic_file), counting every byte this process writes
// through it (config, split, checkpoints, caches, reports, in that order in a training run):
//   FORENSIGHT_FAULT_KILL_AFTER_BYTES=N    SIGKILL once N bytes are out: a torn temporary file
//   FORENSIGHT_FAULT_KILL_BEFORE_RENAME=K  SIGKILL in the K-th commit (1-based), the temporary
//                                          file complete and fsynced, before it is renamed into
//                                          place (after the old file was renamed aside, when the
//                                          commit keeps it: the destination is then missing)
//   FORENSIGHT_FAULT_ENOSPC_AFTER_BYTES=N  writes past N bytes fail with ENOSPC (a full disk)
// Every fault fires only on the first attempt of a launched group (TORCHELASTIC_RESTART_COUNT
// unset or 0), so that a restarted group runs through.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace forensight {

class FaultInjection {
 public:
  // Reads the variables once; malformed values throw Error naming the variable.
  explicit FaultInjection(int rank);
  // Called after each optimiser step.
  void after_step(int64_t step) const;
  bool armed() const { return kill_at_step_ > 0 || hang_at_step_ > 0; }

 private:
  int64_t kill_at_step_ = 0;
  int64_t hang_at_step_ = 0;
};

// write(2) and pwrite(2) with the write-path faults applied: a write that crosses the ENOSPC
// budget writes what fits and the next one fails with errno ENOSPC, as a filling disk does; one
// that crosses the kill budget writes exactly up to it and then SIGKILLs the process. Without the
// variables they are the plain system calls. Thread-safe.
ssize_t fault_aware_write(int fd, const void* data, size_t bytes);
ssize_t fault_aware_pwrite(int fd, const void* data, size_t bytes, off_t offset);
// Called by a commit just before the rename that puts the new file in place.
void fault_before_rename();
// Re-reads the write-path variables and zeroes the byte and commit counts (they are read once, at
// the first write): for tests that set them within one process.
void reload_write_faults();

}  // namespace forensight
