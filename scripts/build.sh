#!/usr/bin/env bash
# Configure and build Forensight against the pinned LibTorch from the bootstrap's environment.
# Usage: scripts/build.sh [BUILD_DIR] [JOBS] [TARGET...] (default: every target; `make demo` builds
# only `forensight`, skipping the tests and benchmarks' test files). Set CMAKE_PREFIX_PATH to use
# another LibTorch >= 2.4.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
jobs="${2:-$(nproc)}"
targets=("${@:3}")
venv="$("$here/scripts/bootstrap.sh")"
torch_prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH;}$torch_prefix" \
    -DFORENSIGHT_PYTHON="$venv/bin/python"
fi
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
else
  cmake --build "$build" -j "$jobs"
fi
