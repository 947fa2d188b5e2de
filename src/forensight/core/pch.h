// Precompiled header: LibTorch, the third-party headers most files read, and the heavy standard
// headers. Each translation unit that parses torch/torch.h from scratch costs ~25 s on a 2-core
// machine; with this it costs ~1 s. CLI11, fmt, nlohmann/json and spdlog cost another 5-8 s of
// CPU per file that reads them (split.cpp 23.8 -> 18.8 s, option_table.cpp 26.1 -> 18.0 s,
// metrics.cpp 16.2 -> 9.4 s, measured on a loaded machine), which is most files.
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
