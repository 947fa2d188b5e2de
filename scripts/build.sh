#!/usr/bin/env bash
# Configure and build Forensight against the pinned LibTorch from the bootstrap's environment.
# Usage: scripts/build.sh [BUILD_DIR] [JOBS] [TARGET...] (default: every target; `make demo` builds
# only `forensight`, skipping the tests and benchmarks' test files). Set CMAKE_PREFIX_PATH to use
# another LibTorch >= 2.4. FORENSIGHT_BUILD_TIMES=1 times every compile (scripts/compile_timer.sh)
# and prints where the build's time went; turning it on or off recompiles everything once.
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
times_log="$(cd "$build" && pwd)/compile-times.tsv"
launcher=""
[ "${FORENSIGHT_BUILD_TIMES:-0}" = "1" ] && launcher="$here/scripts/compile_timer.sh;$times_log;"
# ccache (Debian's, installed by the bootstrap) shares objects between clones on one machine: the
# paths under the checkout become relative (base_dir), the precompiled header is cached like any
# object (the sloppiness its manual asks for), and no compile flag holds the checkout's path (see
# core/source_dir.cpp). FORENSIGHT_CCACHE=0 compiles without it.
if [ "${FORENSIGHT_CCACHE:-1}" = "1" ] && command -v ccache >/dev/null; then
  launcher+="env;CCACHE_BASEDIR=$here;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache"
fi
launcher="${launcher%;}"
if [ "$(sed -n 's/^CMAKE_CXX_COMPILER_LAUNCHER:[A-Z]*=//p' "$build/CMakeCache.txt")" != "$launcher" ]; then
  cmake "$build" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" >/dev/null
fi
rm -f "$times_log"
start=$(date +%s)
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
else
  cmake --build "$build" -j "$jobs"
fi
if [ -n "$launcher" ] && [ -f "$times_log" ]; then
  echo "build: $(( $(date +%s) - start )) s wall on $jobs jobs; compile time by folder, then the slowest files ($times_log):"
  awk -F'\t' '{ n = split($2, p, "/"); d = "?"; for (i = 1; i < n; ++i) if (p[i] ~ /\.dir$/) { d = p[i]; sub(/\.dir$/, "", d); break }
                 s[d] += $1; c[d]++ } END { for (d in s) printf "  %-10s %7.1f s in %d files\n", d, s[d], c[d] }' \
    "$times_log" | sort -k2 -nr
  sort -nr "$times_log" | head -15 | sed 's/^/  /'
fi
