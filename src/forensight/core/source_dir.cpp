// The checkout's path lives in this one translation unit (CMake gives only this file the
// FORENSIGHT_SOURCE_DIR definition). A path on every file's command line would differ between two
// clones and make a compiler cache miss on every object; here it costs one file.
#include "forensight/core/source_dir.h"

namespace forensight::core {

const std::string& source_dir() {
  static const std::string dir = FORENSIGHT_SOURCE_DIR;
  return dir;
}

}  // namespace forensight::core
