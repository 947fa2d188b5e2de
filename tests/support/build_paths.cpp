// tests/CMakeLists.txt gives only this file the FORENSIGHT_BINARY definition (see build_paths.h).
#include "build_paths.h"

#include "forensight/core/source_dir.h"

namespace forensight::testing {

const char* forensight_binary() {
  return FORENSIGHT_BINARY;
}

const std::string& test_source_dir() {
  static const std::string dir = core::source_dir() + "/tests";
  return dir;
}

}  // namespace forensight::testing
