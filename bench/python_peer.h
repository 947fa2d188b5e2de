// Runs a benchmark's Python peer (bench/python/*.py, with the build's Python and its pinned torch)
// and reads the one JSON object it prints last. Shared by every benchmark so that each compares
// against its peer in the same way: same interpreter, same machine, same run.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace forensight::bench {

// script: a file name under bench/python/. args: already shell-quoted arguments. Throws Error with
// the command and its output when the peer fails or prints no JSON.
nlohmann::json run_python_peer(const std::string& python, const std::string& script,
                               const std::string& args);

std::string shell_quote(const std::string& s);

}  // namespace forensight::bench
