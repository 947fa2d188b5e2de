// For tests that start processes of their own: a free loopback port for a rendezvous, and the path
// of the running test binary (which the launcher can start as ranks).
#pragma once
#include <cstdlib>
#include <string>

#include "forensight/core/process.h"

namespace forensight::testing {

inline int free_port() {
  return forensight::free_port();
}
inline std::string self_path() {
  return forensight::self_executable();
}

// Whether this process is a rank that `forensight launch` started (it sets RANK and WORLD_SIZE):
// the worker tests run only there.
inline bool launched() {
  return std::getenv("RANK") != nullptr && std::getenv("WORLD_SIZE") != nullptr;
}

}  // namespace forensight::testing
