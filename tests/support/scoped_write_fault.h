// Arms one of core/fault_injection's write-path faults for the life of a scope, within the test
// process (the variables are otherwise read once per process).
#pragma once
#include <cstdlib>
#include <string>

#include "forensight/core/fault_injection.h"

namespace forensight::testing {

class ScopedWriteFault {
 public:
  ScopedWriteFault(const char* variable, long long value) : variable_(variable) {
    ::setenv(variable, std::to_string(value).c_str(), /*overwrite=*/1);
    reload_write_faults();
  }
  ~ScopedWriteFault() {
    ::unsetenv(variable_);
    reload_write_faults();
  }
  ScopedWriteFault(const ScopedWriteFault&) = delete;
  ScopedWriteFault& operator=(const ScopedWriteFault&) = delete;

 private:
  const char* variable_;
};

}  // namespace forensight::testing
