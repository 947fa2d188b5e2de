#!/usr/bin/env bash
# Configure and build Forensight against the pinned LibTorch from the bootstrap's environment.
# Usage: scripts/build.sh [BUILD_DIR] [JOBS]. Set CMAKE_PREFIX_PATH to use another LibTorch >= 2.4.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-build}"
jobs="${2:-$(nproc)}"
venv="$("$here/scripts/bootstrap.sh")"
torch_prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH;}$torch_prefix" \
    -DFORENSIGHT_PYTHON="$venv/bin/python"
fi
cmake --build "$build" -j "$jobs"
