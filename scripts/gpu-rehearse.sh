#!/usr/bin/env bash
# Rehearses scripts/gpu-check.sh on a machine without a GPU, before device time is spent on it:
# a stand-in nvidia-smi on the PATH lists one GPU, the system's pkg-config folders are hidden so
# the build sees only .gpu-deps/prefix (as on the GPU machine, where cpp-httplib is absent), and
# the whole check runs: probe, configure, build, data, cache, every training stage (each must fail
# with "device 'cuda' is not available"), the CUDA tests (those needing a GPU skip) and the summary.
# Usage: scripts/gpu-rehearse.sh [OUT]   (default /tmp/gpu-rehearsal)
# Exit status 0 when the rehearsal went as it must: the machine stages (configure, build, data,
# cache, tests, summary) ok and the GPU stages refused for want of a device; 1 otherwise.
# Environment: GPU_CHECK_CUDA_MODE=stub rehearses a GPU machine without nvcc; others as gpu-check.
# The first run builds build-gpu/ on this machine's cores (about 8 minutes on 2), where gpu-check
# gives the build 270 s on the GPU machine's 16: this script builds first, without that budget.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/tmp/gpu-rehearsal}"
shim="$(mktemp -d)"
trap 'rm -rf "$shim"' EXIT
cat >"$shim/nvidia-smi" <<'EOF'
#!/usr/bin/env bash
# Stand-in for nvidia-smi (scripts/gpu-rehearse.sh): one GPU, 37% busy, nothing else.
case "$*" in
  -L) echo "GPU 0: REHEARSAL-NO-GPU (UUID: GPU-00000000)" ;;
  *-lms*) while :; do echo 37; sleep 0.2; done ;;
  *"--query-gpu=name --format=csv,noheader"*) echo "REHEARSAL-NO-GPU" ;;
  *--query-gpu*) printf 'name, memory.total [MiB]\nREHEARSAL-NO-GPU, 0 MiB\n' ;;
  *) echo "stand-in nvidia-smi: no GPU here" ;;
esac
EOF
chmod +x "$shim/nvidia-smi"

[ -d "$here/.gpu-deps/prefix" ] || "$here/scripts/gpu-fetch-deps.sh"
export PATH="$shim:$PATH" PKG_CONFIG_LIBDIR=/nonexistent
# The compiler cache scripts/build.sh uses: a rebuild after a small change takes minutes, not eight.
if command -v ccache >/dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER="env;CCACHE_BASEDIR=$here;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache"
fi
OUT="$out" "$here/scripts/gpu-check.sh" --configure-only
cmake --build "$here/build-gpu" --target forensight forensight_tests -j "$(nproc)"
rm -rf "$out"
OUT="$out" "$here/scripts/gpu-check.sh" || true
python3 - "$out/stages.jsonl" <<'EOF'
import json, sys
must_pass = {"configure", "build-app", "data", "cache", "build-tests", "cuda-tests", "summary"}
bad = []
for line in open(sys.argv[1]):
    s = json.loads(line)
    if s["stage"] in must_pass:
        if s["status"] != "ok": bad.append(f"{s['stage']}: {s['status']} ({s['note']})")
    elif not (s["status"] == "failed" and ("not available" in s["note"] or "no CUDA device" in s["note"])):
        bad.append(f"{s['stage']}: {s['status']}, not refused for want of a GPU ({s['note']})")
print("gpu-rehearse: " + ("as it must: the machine stages ran, the GPU stages were refused"
                          if not bad else "NOT as it must:\n  " + "\n  ".join(bad)))
sys.exit(1 if bad else 0)
EOF
