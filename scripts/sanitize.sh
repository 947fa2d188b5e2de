#!/usr/bin/env bash
# Builds Forensight with a sanitizer in a folder of its own (gcc, as the normal build: LibTorch's
# headers and the precompiled header compile as they do there; the normal `build` is untouched)
# and runs the tests that sanitizer is for (issue #18 section 2; docs/RELIABILITY.md records the
# last result). Not part of `make test`/CI: each build takes most of an hour on 2 cores.
#   address: ASan + UBSan (build-asan), every unit test (ctest -L unit, the fuzz replays included).
#   thread:  TSan (build-tsan), the tests whose subject is our threading: the loader, rendezvous and
#            the distributed jobs, the pipeline's stages, the service's batcher and HTTP server.
# Usage: scripts/sanitize.sh address|thread   (`make asan`, `make tsan`; JOBS=N, NICE=N)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
kind="${1:-}"
case "$kind" in
  address) build="${FORENSIGHT_ASAN_BUILD:-$here/build-asan}" ;;
  thread) build="${FORENSIGHT_TSAN_BUILD:-$here/build-tsan}" ;;
  *)
    echo "sanitize.sh: expected 'address' or 'thread', got '$kind'" >&2
    exit 2
    ;;
esac
jobs="${JOBS:-$(nproc)}"
# The sanitizer builds are long and the machine is often shared: they yield to other work.
nice=(nice -n "${NICE:-10}")

venv="$("$here/scripts/bootstrap.sh")"
torch_prefix="$("$venv/bin/python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # -O1: the sanitizers' advice, and a third less compile time than -O3; NDEBUG as in the normal
  # build (LibTorch's headers are read as the wheel was built). The CUDA plug-in is left out, as
  # the fuzz build does: it links libtorch_cuda.so, which no test here loads.
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" -DFORENSIGHT_SANITIZE="$kind" \
    -DFORENSIGHT_CUDA_PLUGIN=OFF \
    -DCMAKE_PREFIX_PATH="${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH;}$torch_prefix" \
    -DFORENSIGHT_PYTHON="$venv/bin/python" >/dev/null
fi

start=$(date +%s)
if [ "$kind" = address ]; then
  # Everything: `ctest -L unit` also replays the fuzz regressions through fuzz/replay_*.
  "${nice[@]}" cmake --build "$build" -j "$jobs"
else
  "${nice[@]}" cmake --build "$build" -j "$jobs" --target forensight forensight_tests
fi
built=$(date +%s)

# Child processes (`forensight` ranks, servers) inherit these, so a finding in one fails its test.
if [ "$kind" = address ]; then
  # Leaks are findings; a third-party leak our code cannot free is suppressed, each named and
  # justified in fuzz/lsan.supp (the fuzz targets') or sanitizers/lsan.supp (the tests'). An
  # allocation the size of the address space is refused (bad_alloc) as production's allocator
  # would, not reported.
  cat "$here/fuzz/lsan.supp" "$here/sanitizers/lsan.supp" >"$build/lsan.supp"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$build/lsan.supp:print_suppressions=0}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  selection=(-L unit)
else
  # A race inside an uninstrumented third-party runtime (libgomp, gloo, LibTorch) is suppressed in
  # sanitizers/tsan.supp, each named and justified there, once a run has shown it. One OpenMP
  # thread: LibTorch's kernels and our at::parallel_for then run inline (libgomp's barriers are
  # invisible to TSan), and what TSan checks is our own threads: loader workers, pipeline stage
  # workers, gloo's collectives against our gradient hooks, the batcher and the HTTP threads.
  tsan_options="second_deadlock_stack=1"
  [ -f "$here/sanitizers/tsan.supp" ] && tsan_options+=":suppressions=$here/sanitizers/tsan.supp"
  export TSAN_OPTIONS="${TSAN_OPTIONS:-$tsan_options}"
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
  selection=(-R '^(LoaderTest|LoaderFaultsTest|RendezvousTest|DistributedIntegration|PipelineTest|StageUnitTest|ServeBatcherTest|ServeServerTest)\.')
fi
log="$build/sanitize-$kind.log"
status=0
(cd "$build" && ctest --output-on-failure -j "$jobs" "${selection[@]}") 2>&1 | tee "$log" || status=$?
done=$(date +%s)

# Every report, whichever test or child process printed it (ctest keeps all output).
# (A rank's lines come through the launcher with a "[rank N] " prefix.)
reports=$(grep -cE '^(\[rank [0-9]+\] )?(SUMMARY: (Address|Leak|Thread|UndefinedBehavior)Sanitizer|.*: runtime error: )' \
  "$build/Testing/Temporary/LastTest.log" || true)
echo "sanitize $kind: build $((built - start)) s, tests $((done - built)) s on $jobs jobs;" \
  "$(grep -E 'tests passed' "$log" | tail -1); sanitizer reports: $reports" \
  "(each in $build/Testing/Temporary/LastTest.log)"
[ "$reports" -eq 0 ] || status=1
exit "$status"
