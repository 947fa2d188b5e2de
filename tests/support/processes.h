// For tests that start processes of their own: a free loopback port for a rendezvous, and the path
// of the running test binary (which the launcher can start as ranks).
#pragma once
#include <string>

#include "forensight/core/process.h"

namespace forensight::testing {

inline int free_port() {
  return forensight::free_port();
}
inline std::string self_path() {
  return forensight::self_executable();
}

}  // namespace forensight::testing
