#include "bench/python_peer.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdio>
#include <memory>

#include "forensight/core/error.h"
#include "forensight/core/source_dir.h"

namespace forensight::bench {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

nlohmann::json run_python_peer(const std::string& python, const std::string& script,
                               const std::string& args) {
  const std::string command = shell_quote(python) + " " +
                              shell_quote(core::source_dir() + "/bench/python/" + script) + " " +
                              args;
  spdlog::debug("running {}", command);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) fail("cannot start the Python peer: {}", command);
  std::string output;
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    output.append(buffer.data(), n);
  const int status = ::pclose(pipe.release());
  if (status != 0)
    fail(
        "the Python peer failed (exit status {}): {}\nrun it by hand to see why, or pass "
        "--no-python; output:\n{}",
        status, command, output);
  // The peer prints one JSON object as its last line; anything before it is warnings.
  size_t start = output.rfind("\n{");
  start = start == std::string::npos ? 0 : start + 1;
  try {
    return nlohmann::json::parse(output.substr(start));
  } catch (const nlohmann::json::exception& e) {
    fail("the Python peer printed no JSON ({}): {}", e.what(), output);
  }
}

}  // namespace forensight::bench
