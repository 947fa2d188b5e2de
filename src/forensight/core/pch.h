// Precompiled header: LibTorch and the heavy standard headers. Each translation unit that parses
// torch/torch.h from scratch costs ~25 s on a 2-core machine; with this it costs ~1 s.
#pragma once
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
