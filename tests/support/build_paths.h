// Where this build put the forensight executable, whether it built the CUDA plug-in beside it, and
// where the test sources are. They are
// functions, not definitions on every test file's command line: a path there differs between two
// clones and would make a compiler cache miss on every test object (issue #16); here the
// executable's path reaches one file (build_paths.cpp) and the source path comes from the library.
#pragma once
#include <string>

namespace forensight::testing {

// The `forensight` executable of this build (absolute path).
const char* forensight_binary();

// Whether this build made libforensight_cuda.so (next to forensight_binary()): the LibTorch it
// found has CUDA and FORENSIGHT_CUDA_PLUGIN is on.
bool cuda_plugin_built();

// The checkout's tests/ folder (absolute path): reference scripts and fixtures live there.
const std::string& test_source_dir();

}  // namespace forensight::testing
