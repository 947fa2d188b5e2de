// The message of the forensight::Error a call throws, or "" when it throws none: for tests that
// check a refusal names the thing and the reason.
#pragma once
#include <functional>
#include <string>

#include "forensight/core/error.h"

namespace forensight::testing {

inline std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace forensight::testing
