// Logging through spdlog: one process-wide logger named "forensight" writing to stderr, so that
// stdout stays clean for tables and JSON a user may pipe elsewhere.
#pragma once
#include <spdlog/spdlog.h>

#include <string>

namespace forensight {

// level: trace, debug, info, warn, error, off. Throws Error naming the valid levels otherwise.
void init_logging(const std::string& level = "info");

}  // namespace forensight
