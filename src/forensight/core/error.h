// Forensight's error type and the checks that raise it. Input is never checked with assert: every
// bad file, flag or config value becomes an Error whose message says what was expected, what came,
// and what to try.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace forensight {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad input file (corrupt, truncated, unsupported, too large). Loaders catch it, log it and
// count it; they never let it end a run.
class DecodeError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace forensight

// FS_CHECK(cond, "format", args...): throws forensight::Error with the message and file:line.
#define FS_CHECK(cond, ...)                                                             \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::forensight::Error(                                                        \
          fmt::format(__VA_ARGS__) +                                                    \
          fmt::format(" [{}:{}]", ::forensight::detail::basename(__FILE__), __LINE__)); \
  } while (0)

namespace forensight::detail {
constexpr const char* basename(const char* path) {
  const char* base = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/') base = p + 1;
  return base;
}
}  // namespace forensight::detail
