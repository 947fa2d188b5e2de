// tests/CMakeLists.txt gives only this file the FORENSIGHT_BINARY and FORENSIGHT_CUDA_PLUGIN_BUILT
// definitions (see build_paths.h). A definition given to one test file would not reach it: the
// test files compile in unity batches, and only the ALONE files keep their own properties.
#include "build_paths.h"

#include "forensight/core/source_dir.h"

namespace forensight::testing {

const char* forensight_binary() {
  return FORENSIGHT_BINARY;
}

bool cuda_plugin_built() {
  return FORENSIGHT_CUDA_PLUGIN_BUILT != 0;
}

const std::string& test_source_dir() {
  static const std::string dir = core::source_dir() + "/tests";
  return dir;
}

}  // namespace forensight::testing
