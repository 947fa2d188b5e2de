// Where this build put the forensight executable, and where the test sources are. They are
// functions, not definitions on every test file's command line: a path there differs between two
// clones and would make a compiler cache miss on every test object (issue #16); here the
// executable's path reaches one file (build_paths.cpp) and the source path comes from the library.
#pragma once
#include <string>

namespace forensight::testing {

// The `forensight` executable of this build (absolute path).
const char* forensight_binary();

// The checkout's tests/ folder (absolute path): reference scripts and fixtures live there.
const std::string& test_source_dir();

}  // namespace forensight::testing
