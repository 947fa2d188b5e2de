#!/usr/bin/env bash
# Compiler launcher of `FORENSIGHT_BUILD_TIMES=1 scripts/build.sh`: runs the compile command it is
# given and appends "seconds<TAB>object file" to LOG, so the build can say where its time went.
# Usage (by CMake, as CMAKE_CXX_COMPILER_LAUNCHER): compile_timer.sh LOG COMPILER ARGS...
log="$1"
shift
start=$(date +%s.%N)
"$@"
status=$?
object="?"
previous=""
for arg in "$@"; do
  [ "$previous" = "-o" ] && object="$arg"
  previous="$arg"
done
awk -v start="$start" -v end="$(date +%s.%N)" -v object="$object" \
  'BEGIN { printf "%.1f\t%s\n", end - start, object }' >> "$log"
exit $status
