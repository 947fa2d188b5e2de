#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang++ with ASan and UBSan, in build-fuzz so the gcc build
# is untouched) and runs each for SECONDS on one core, from its committed seeds and regression
# inputs, with its dictionary. Prints per target the executions, coverage (libFuzzer's cov: edges,
# ft: features) and findings; exits non-zero when any target found something, leaving the input
# in build-fuzz/fuzz-runs/<target>/ (crash-*, leak-*, timeout-*, oom-*).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (`make fuzz`, `make fuzz FUZZ_SECONDS=600`)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-45}"
targets=("${@:2}")
build="${FORENSIGHT_FUZZ_BUILD:-$here/build-fuzz}"
all=(image_decode csv_manifest config split decoded_cache safetensors checkpoint torch_save
     http_request)
# http_request (the HTTP service) has the longest clang build: the server, the models and the
# detectors (~10 min on 2 cores the first time).
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

venv="$("$here/scripts/bootstrap.sh")"
torch_prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DFORENSIGHT_FUZZ=ON -DFORENSIGHT_BUILD_TESTS=OFF -DFORENSIGHT_CUDA_PLUGIN=OFF \
    -DCMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH;}$torch_prefix" \
    -DFORENSIGHT_PYTHON="$venv/bin/python" >/dev/null
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target $(printf 'forensight_fuzz_%s ' "${targets[@]}")

# Leaks are findings; an allocation the size of the address space is refused with null (and then a
# bad_alloc our code must handle) rather than reported, as production's allocator would.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Third-party leaks, each named and justified in its file: fuzz/lsan.supp (the readers') and
# sanitizers/lsan.supp (fontconfig's, which the server's PDF report reaches through cairo).
cat "$here/fuzz/lsan.supp" "$here/sanitizers/lsan.supp" >"$build/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$build/lsan.supp:print_suppressions=0}"
status=0
printf '%-14s %8s %10s %8s %7s %7s  %s\n' target seconds executions exec/s cov ft findings
for t in "${targets[@]}"; do
  runs="$build/fuzz-runs/$t"
  mkdir -p "$runs/corpus"
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1
        -artifact_prefix="$runs/")
  dict="$here/fuzz/dict/$t.dict"
  case "$t" in
    image_decode) dict="$here/fuzz/dict/image.dict"; opts+=(-max_len=32768) ;;
    csv_manifest) dict="$here/fuzz/dict/csv.dict" ;;
    config) opts+=(-max_len=8192) ;;
    # A connection's bytes: a few requests, or one multipart upload of a small image.
    http_request) opts+=(-max_len=65536) ;;
    # Archives: LibTorch's zip reader and unpickler are slow to start. One allocation over 2.5 GiB
    # is a finding (the 4 GiB ones a declared length caused are refused first now,
    # models/torch_archive_check.h); the RSS limit is higher because ASan's quarantine of freed
    # LibTorch blocks grew past 2.5 GiB in a 10-minute run while the live heap was 80 MB.
    checkpoint | torch_save) opts+=(-max_len=16384 -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=2560) ;;
  esac
  [ -f "$dict" ] && opts+=(-dict="$dict")
  seeds=("$here/fuzz/corpus/$t")
  [ -d "$here/fuzz/regressions/$t" ] && seeds+=("$here/fuzz/regressions/$t")
  log="$runs/fuzz.log"
  touch "$runs/.started"
  "$build/fuzz/fuzz_$t" "${opts[@]}" "$runs/corpus" "${seeds[@]}" >"$log" 2>&1 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  found=$(find "$runs" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
          -o -name 'oom-*' -o -name 'slow-unit-*' \) -newer "$runs/.started" | wc -l)
  note="none"
  if [ "$found" -gt 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: ' "$log"; then
    note="$found input(s) in $runs/ (log: $log)"
    status=1
  fi
  printf '%-14s %8s %10s %8s %7s %7s  %s\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "$note"
done
exit $status
