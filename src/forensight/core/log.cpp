#include "forensight/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "forensight/core/error.h"

namespace forensight {

void init_logging(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    fail("unknown log level '{}': valid levels are trace, debug, info, warn, error, off", level);
  auto logger = spdlog::get("forensight");
  if (!logger) {
    logger = spdlog::stderr_color_mt("forensight");
    spdlog::set_default_logger(logger);
  }
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(parsed);
}

}  // namespace forensight
