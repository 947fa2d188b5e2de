// Running the forensight executable from a test, as a user would: its exit status and everything
// it printed, and the JSON files it writes.
#pragma once
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "build_paths.h"
#include "tiny_dataset.h"

namespace forensight::testing {

struct CliOutcome {
  int status = -1;     // the exit status
  std::string output;  // stdout and stderr together
};

// `forensight ARGUMENTS` (the build's binary; ARGUMENTS as a shell would split them).
inline CliOutcome run_forensight(const std::string& arguments) {
  CliOutcome o;
  o.status = run_command(std::string(forensight::testing::forensight_binary()) + " " + arguments,
                         &o.output);
  return o;
}

// The JSON document at `path`; a missing file fails the test and throws json's parse error.
inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

}  // namespace forensight::testing
