#!/usr/bin/env bash
# The GPU check (issue 14 §4): on a lent GPU machine with no network, probe it, build Forensight
# against its PyTorch's LibTorch, run the CUDA tests and a GPU throughput study against the Python
# original, and write $OUT/gpu-summary.{json,md}. Device time is short, so every stage has a time
# budget and the whole run stops at a deadline (GPU_CHECK_BUDGET_S, 470 s), recording what it skipped.
#
# Usage:
#   scripts/gpu-fetch-deps.sh                 # here, with network: .gpu-deps/prefix (< 56 MiB)
#   OUT=/tmp/out scripts/gpu-check.sh         # there: carry .gpu-deps/prefix; results in $OUT
#   scripts/gpu-check.sh --build-only         # probe and build build-gpu/ (needs no GPU)
#   scripts/gpu-check.sh --dry-run            # print the plan: stages, budgets, commands
#   scripts/gpu-check.sh --configure-only     # probe and CMake-configure build-gpu/ (a quick check)
# Environment: OUT (default build-gpu/out), GPU_CHECK_BUDGET_S (470), GPU_CHECK_PYTHON (a python
# with torch), GPU_CHECK_IMAGES (16384 JPEGs), GPU_CHECK_R18_BATCH (256), GPU_CHECK_VIT_BATCH (128),
# GPU_CHECK_AMP (bf16: the AMP mode the targets use), GPU_CHECK_TEST_FILTER (gtest filter),
# GPU_CHECK_CUDA_MODE (auto|nvcc|stub: how CMake meets LibTorch's CUDA; stub when no nvcc matches).
# Exit status: 0 when every stage ran (targets may still fail: see the summary), 1 when a stage
# failed, 2 when there is no CUDA device (the full check only).
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here" || exit 1

mode=full
case "${1:-}" in
  "") ;;
  --build-only) mode="build-only" ;;
  --dry-run) mode="dry-run" ;;
  --configure-only) mode="configure-only" ;;
  -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "gpu-check: unknown argument '$1' (valid: --build-only, --configure-only, --dry-run, --help)" >&2; exit 64 ;;
esac

OUT="${OUT:-$here/build-gpu/out}"
budget_s="${GPU_CHECK_BUDGET_S:-470}"
images="${GPU_CHECK_IMAGES:-16384}"
r18_batch="${GPU_CHECK_R18_BATCH:-256}"
vit_batch="${GPU_CHECK_VIT_BATCH:-128}"
amp="${GPU_CHECK_AMP:-bf16}"
test_filter="${GPU_CHECK_TEST_FILTER:-*Nccl*:*Cuda*:*CUDA*:*Gpu*:*GPU*:DeviceTest.*:LoaderTest.PinMemory*}"
cuda_mode="${GPU_CHECK_CUDA_MODE:-auto}"
build="$here/build-gpu"
prefix="$here/.gpu-deps/prefix"
work="$build/study"
logs="$OUT/logs"
bin="$build/forensight"
start_s=$SECONDS
deadline_s=$((start_s + budget_s))

log() { echo "gpu-check: $*" >&2; }

# ---- 0. No GPU: fail at once (the build alone needs none)
if [ "$mode" = full ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu-check: no CUDA device (nvidia-smi not found; use --build-only to build without one)" >&2
    exit 2
  fi
  if ! smi_list="$(nvidia-smi -L 2>&1)" || ! grep -q '^GPU ' <<<"$smi_list"; then
    echo "gpu-check: no CUDA device (nvidia-smi -L: $(head -1 <<<"$smi_list"))" >&2
    exit 2
  fi
fi

[ "$mode" = dry-run ] || mkdir -p "$logs"
stages_file="$OUT/stages.jsonl"
[ "$mode" = dry-run ] || : >"$stages_file"

# Records one stage's outcome as a JSON line for the summary.
record() {  # name status rc seconds note
  printf '{"stage": "%s", "status": "%s", "rc": %s, "seconds": %s, "note": "%s"}\n' \
    "$1" "$2" "$3" "$4" "${5//\"/\'}" >>"$stages_file"
}

# Runs one stage under its budget (cut to the deadline), its output in $logs/NAME.log.
# stage NAME BUDGET_S COMMAND: COMMAND is a bash string; in --dry-run it is printed, not run.
stage() {
  local name="$1" want="$2" cmd="$3" left rc t0
  if [ "$mode" = dry-run ]; then
    printf '[%s, budget %ss]\n  %s\n' "$name" "$want" "$cmd"
    return 0
  fi
  left=$((deadline_s - SECONDS))
  if [ "$left" -lt 10 ]; then
    log "$name: skipped (deadline reached)"
    record "$name" skipped null 0 "deadline reached"
    return 3
  fi
  [ "$want" -gt "$left" ] && want=$left
  log "$name (budget ${want} s)"
  t0=$SECONDS
  timeout -k 5 "$want" bash -c "$cmd" >"$logs/$name.log" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    record "$name" ok 0 $((SECONDS - t0)) ""
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    log "$name: over its ${want} s budget, moving on (log: $logs/$name.log)"
    record "$name" timeout "$rc" $((SECONDS - t0)) "over its ${want} s budget"
  else
    log "$name: failed (exit $rc); last lines of $logs/$name.log:"
    tail -5 "$logs/$name.log" >&2
    record "$name" failed "$rc" $((SECONDS - t0)) "$(tail -1 "$logs/$name.log" | sed 's/[\\"]//g')"
  fi
  return "$rc"
}

skip() {  # name reason
  log "$1: skipped ($2)"
  [ "$mode" = dry-run ] && { printf '[%s: skipped: %s]\n' "$1" "$2"; return 0; }
  record "$1" skipped null 0 "$2"
}

# ---- 1. Probe: the machine, the python with torch, the tools
find_python() {
  local p
  for p in "${GPU_CHECK_PYTHON:-}" python3 python /usr/bin/python3 /usr/local/bin/python3 \
    /opt/conda/bin/python "$HOME"/.cache/forensight/venv-torch-*/bin/python /opt/*/bin/python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1 &&
      { command -v "$p"; return 0; }
  done
  return 1
}
first_tool() {  # prints the first of the candidates that runs
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 && { command -v "$t"; return 0; }; done
  return 1
}

py="$(find_python || true)"
py_bin_dir="${py:+$(dirname "$py")}"
if [ -d "$prefix" ]; then
  libdirs="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu"
  export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_PATH="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export PATH="$PATH:$prefix/usr/bin"
fi
cxx="$(first_tool "${CXX:-}" g++ c++ clang++ "$prefix/usr/bin/g++" || true)"
cmake_bin="$(first_tool cmake "$py_bin_dir/cmake" "$prefix/usr/bin/cmake" || true)"
ninja_bin="$(first_tool ninja "$py_bin_dir/ninja" || true)"
make_bin="$(first_tool make gmake || true)"
pkgconfig_bin="$(first_tool pkg-config pkgconf || true)"
nvcc_bin="$(first_tool nvcc "${CUDA_HOME:-/nonexistent}/bin/nvcc" /usr/local/cuda/bin/nvcc \
  /usr/local/cuda-*/bin/nvcc || true)"

probe() {
  echo "date: $(date -u +%FT%TZ)"
  # shellcheck disable=SC1091
  echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "glibc: $(ldd --version 2>&1 | head -1)"
  echo "nproc: $(nproc)"
  free -g | sed 's/^/free: /'
  df -h "$here" | tail -1 | sed 's/^/disk: /'
  echo "--- nvidia-smi"
  nvidia-smi 2>&1 | head -25 || echo "nvidia-smi: absent"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1 || true
  echo "--- python"
  echo "python with torch: ${py:-none}"
  [ -n "$py" ] && "$py" - <<'EOF' 2>&1
import importlib.util, torch
print("torch", torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None)
print("cuda available", torch.cuda.is_available(),
      "devices", [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])
print("cmake prefix", torch.utils.cmake_prefix_path)
for m in ("torchvision", "transformers", "PIL", "numpy", "cmake", "ninja"):
    print(m, "importable" if importlib.util.find_spec(m) else "absent")
EOF
  echo "--- tools"
  for t in "$cxx" "$cmake_bin" "$nvcc_bin" "$ninja_bin" "$make_bin" "$pkgconfig_bin"; do
    [ -n "$t" ] && echo "$t: $("$t" --version 2>&1 | grep -m1 -iE 'version|[0-9]+\.[0-9]+')"
  done
  echo "c++ compiler: ${cxx:-none}; cmake: ${cmake_bin:-none}; nvcc: ${nvcc_bin:-none}"
  echo "ninja: ${ninja_bin:-none}; make: ${make_bin:-none}; pkg-config: ${pkgconfig_bin:-none}"
  echo "deps prefix: $([ -d "$prefix" ] && du -sh "$prefix" | cut -f1 || echo absent)"
}
if [ "$mode" = dry-run ]; then
  echo "[probe] nvidia-smi, nproc, free, python with torch: ${py:-none}, c++: ${cxx:-none}," \
    "cmake: ${cmake_bin:-none}, nvcc: ${nvcc_bin:-none} -> $OUT/probe.txt"
else
  probe 2>&1 | tee "$OUT/probe.txt"
fi

# ---- 2. Configure and build (build-gpu/: forensight, the CUDA plug-in, the tests)
torch_prefix=""
torch_cuda=""
[ -n "$py" ] && torch_prefix="$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)' 2>/dev/null)"
[ -n "$py" ] && torch_cuda="$("$py" -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null)"
can_build=1
why_no_build=""
[ -z "$py" ] && { can_build=0; why_no_build="no python with torch"; }
[ -z "$cxx" ] && { can_build=0; why_no_build="no C++ compiler (g++, c++, clang++)"; }
[ -z "$cmake_bin" ] && { can_build=0; why_no_build="${why_no_build:+$why_no_build; }no cmake"; }
[ -z "$ninja_bin$make_bin" ] && { can_build=0; why_no_build="${why_no_build:+$why_no_build; }no make or ninja"; }

# LibTorch's Caffe2 config enables the CUDA language (nvcc) when torch has CUDA. Without an nvcc of
# torch's CUDA major version, a stub defines torch::cudart from the wheel's CUDA runtime, so that
# Caffe2's public/cuda.cmake returns at its include guard; only C++ is compiled, nothing in CUDA.
nvcc_major=""
[ -n "$nvcc_bin" ] && nvcc_major="$("$nvcc_bin" --version 2>/dev/null | sed -nE 's/.*release ([0-9]+)\..*/\1/p')"
if [ "$cuda_mode" = auto ]; then
  cuda_mode=stub
  [ -n "$nvcc_major" ] && [ "$nvcc_major" = "${torch_cuda%%.*}" ] && cuda_mode=nvcc
fi
# shellcheck disable=SC2317  # called from a stage's bash -c (exported below)
write_cudart_stub() {
  mkdir -p "$build"
  "$py" - "$build/torch-cudart-stub.cmake" <<'EOF'
import glob, os, sys, torch
site = os.path.dirname(os.path.dirname(torch.__file__))
libs = sorted(glob.glob(os.path.join(site, "nvidia", "**", "libcudart.so*"), recursive=True))
heads = sorted(glob.glob(os.path.join(site, "nvidia", "**", "cuda_runtime_api.h"), recursive=True))
if not libs or not heads:
    sys.exit("gpu-check: the torch wheel's nvidia/ folder has no libcudart.so or cuda_runtime_api.h")
with open(sys.argv[1], "w") as f:
    f.write("# Written by scripts/gpu-check.sh: torch::cudart without nvcc (Caffe2's cuda.cmake\n"
            "# returns when this target exists).\n"
            "if(NOT TARGET torch::cudart)\n"
            "  add_library(torch::cudart INTERFACE IMPORTED)\n"
            f'  set_target_properties(torch::cudart PROPERTIES\n'
            f'    INTERFACE_INCLUDE_DIRECTORIES "{os.path.dirname(heads[0])}"\n'
            f'    INTERFACE_LINK_LIBRARIES "{libs[0]}")\n'
            "endif()\n")
print(sys.argv[1])
EOF
}

configure_args=(-S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFORENSIGHT_PYTHON="$py"
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="${prefix}/usr;${torch_prefix}")
[ -n "$ninja_bin" ] && configure_args+=(-G Ninja -DCMAKE_MAKE_PROGRAM="$ninja_bin")
if [ -d "$prefix" ]; then
  configure_args+=(-DFORENSIGHT_SYSTEM_FMT_DIR="$prefix/usr/include"
    "-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,$prefix/usr/lib/x86_64-linux-gnu"
    "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-rpath-link,$prefix/usr/lib/x86_64-linux-gnu")
fi
[ -n "$pkgconfig_bin" ] && configure_args+=(-DPKG_CONFIG_EXECUTABLE="$pkgconfig_bin")
if [ "$cuda_mode" = nvcc ]; then
  configure_args+=(-DCMAKE_CUDA_COMPILER="$nvcc_bin" -DCUDA_TOOLKIT_ROOT_DIR="$(dirname "$(dirname "$nvcc_bin")")")
else
  configure_args+=(-DCMAKE_PROJECT_INCLUDE="$build/torch-cudart-stub.cmake")
fi
configure_cmd="rm -f '$build/CMakeCache.txt'; $( [ "$cuda_mode" = stub ] && echo 'write_cudart_stub && ' )'$cmake_bin' $(printf "'%s' " "${configure_args[@]}")"
export -f write_cudart_stub
export py build

built=0
if [ "$can_build" = 0 ]; then
  skip configure "$why_no_build"
  skip build-app "$why_no_build"
else
  log "CUDA configuration: $cuda_mode (nvcc ${nvcc_bin:-none}, release ${nvcc_major:-?}; torch CUDA ${torch_cuda:-none})"
  stage configure 90 "$configure_cmd"
  configured=$?
  if [ "$mode" = configure-only ]; then
    log "configure-only: exit $configured in $((SECONDS - start_s)) s (log: $logs/configure.log)"
    exit "$configured"
  fi
  if [ "$configured" = 0 ] &&
    stage build-app 270 "'$cmake_bin' --build '$build' --target forensight -j 16"; then
    built=1
  fi
fi
if [ "$mode" = build-only ]; then
  [ "$built" = 1 ] && stage build-tests 200 "'$cmake_bin' --build '$build' --target forensight_tests -j 16"
  log "build-only: done in $((SECONDS - start_s)) s (build-gpu/)"
  exit $((built == 1 ? 0 : 1))
fi
[ "$mode" = dry-run ] && built=1

# ---- 3. The study: data, then each configuration's training images/s
cuda_ver="$(tr -cd '0-9.' <<<"$torch_cuda")"
photos=/usr/share/backgrounds/mate
[ -d "$photos" ] || photos="$prefix/usr/share/backgrounds/mate"
r18_flags="--model resnet18 --normalization imagenet --batch-size $r18_batch"
vit_flags="--model vit-base --normalization half --batch-size $vit_batch"
common="--data '$work/jpeg' --image-size 224 --size-mode resize --split 1.0/0.0/0.0 --hflip-prob 0 --log-every-steps 1 --checkpoint-every-epochs 0 --workers 16 --device cuda"

# The JPEG set: a synthesised base of 1024 images hard-linked up to $images files, and the
# manifest (path,label,split) the Python original reads. Without our binary, Python makes the base.
data_cmd="rm -rf '$work' && mkdir -p '$work' && "
if [ "$built" = 1 ]; then
  data_cmd+="'$bin' data synth --out '$work/base' --count 1024 --size 256 --photos '$photos' && "
else
  data_cmd+="'$py' - '$photos' '$work/base' <<'EOF' &&
import glob, os, random, sys
from PIL import Image
photos = sorted(glob.glob(sys.argv[1] + '/**/*.jpg', recursive=True))
rng = random.Random(0)
for label, name in ((0, '0_real'), (1, '1_fake')):
    os.makedirs(f'{sys.argv[2]}/{name}', exist_ok=True)
    for i in range(512):
        im = Image.open(rng.choice(photos)).convert('RGB')
        x, y = rng.randrange(im.width - 256), rng.randrange(im.height - 256)
        im = im.crop((x, y, x + 256, y + 256))
        if label: im = im.resize((64, 64)).resize((256, 256))
        im.save(f'{sys.argv[2]}/{name}/{i:05d}.jpg', quality=90)
EOF
"
fi
data_cmd+="'$py' - '$work/base' '$work/jpeg' $images <<'EOF'
import os, sys
base, out, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted((c, f) for c in ('0_real', '1_fake') for f in os.listdir(f'{base}/{c}'))
rows = ['path,label,split']
for i in range(total):
    c, f = files[i % len(files)]
    os.makedirs(f'{out}/{c}', exist_ok=True)
    dst = f'{out}/{c}/{i:06d}_{f}'
    os.link(f'{base}/{c}/{f}', dst)
    rows.append(f'{dst},{int(c[0])},{\"val\" if i % 100 == 99 else \"train\"}')
open(out + '.csv', 'w').write('\n'.join(rows) + '\n')
print(f'{total} JPEGs in {out}, manifest {out}.csv')
EOF
"

# ours NAME BUDGET FLAGS: one training run; its step records give the images/s.
ours() {
  local name="$1" budget="$2" flags="$3"
  if [ "$built" != 1 ]; then skip "$name" "no build: ${why_no_build:-the build failed}"; return; fi
  stage "$name" "$budget" "rm -rf '$work/runs/$name' && '$bin' train $common --out '$work/runs/$name' $flags && cp '$work/runs/$name/metrics.jsonl' '$logs/$name.metrics.jsonl'"
}
# with_util NAME: samples the GPU busy share every 200 ms while the next command runs.
util_start() {
  [ "$mode" = dry-run ] && { echo "[$1: nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 > $logs/$1.util.csv in the background]"; return; }
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$logs/$1.util.csv" 2>/dev/null &
  util_pid=$!
}
util_stop() {
  [ -n "$util_pid" ] || return 0
  kill "$util_pid" 2>/dev/null
  wait "$util_pid" 2>/dev/null
  util_pid=""
}

util_pid=""
stage data 100 "$data_cmd" || { [ "$mode" = dry-run ] || built=0; why_no_build="data stage failed"; }
if [ "$built" = 1 ]; then
  stage cache 60 "'$bin' data cache '$work/jpeg' --size 224 --mode resize --out '$work/cache-224.fsc'"
fi
r18_steps="--max-steps 60 --epochs 100"
vit_steps="--max-steps 30 --epochs 100"
ours r18-"$amp"-cache 45 "$r18_flags $r18_steps --amp $amp --cache '$work/cache-224.fsc'"
util_start r18-"$amp"-jpeg
ours r18-"$amp"-jpeg 45 "$r18_flags $r18_steps --amp $amp"
util_stop
ours vit-"$amp"-cache 60 "$vit_flags $vit_steps --amp $amp --cache '$work/cache-224.fsc'"
ours r18-fp32-cache 45 "$r18_flags $r18_steps --cache '$work/cache-224.fsc'"
ours vit-fp32-cache 60 "$vit_flags $vit_steps --cache '$work/cache-224.fsc'"
# One end-to-end epoch from the JPEG files, ours then the Python original, same set and settings.
util_start r18-epoch-ours
ours r18-epoch-ours 60 "$r18_flags --epochs 1 --amp $amp"
util_stop
if [ -z "$py" ]; then
  skip r18-epoch-python "no python with torch"
elif [ ! -f "$here/bench/python/original.py" ]; then
  skip r18-epoch-python "bench/python/original.py is missing"
else
  util_start r18-epoch-python
  stage r18-epoch-python 120 "'$py' '$here/bench/python/original.py' --manifest '$work/jpeg.csv' --model resnet18 --image-size 224 --batch-size $r18_batch --epochs 1 --threads 16 --workers 16 --amp $amp --channels-last --placement one --device cuda --out '$logs/r18-epoch-python.json'"
  util_stop
fi

# ---- 4. The CUDA tests, then the remaining precision (fp16) runs
# Each test in a process of its own, as ctest runs them: LibTorch keeps the first answer it gives
# about CUDA for the life of its process (core/cuda_runtime.h), so one test that asks too early
# would make every later GPU test in a shared process skip or fail.
# shellcheck disable=SC2317  # called from a stage's bash -c (exported below)
run_cuda_tests() {  # test_binary gtest_filter xml_dir
  local tests_bin="$1" filter="$2" dir="$3" name rc=0
  mkdir -p "$dir"
  "$tests_bin" --gtest_list_tests --gtest_filter="$filter" |
    awk '/^[^ ]/ { suite = $1 } /^  [^ ]/ { print suite $1 }' >"$dir/list.txt" || return 1
  while read -r name; do
    echo "== $name"
    "$tests_bin" --gtest_filter="$name" --gtest_output="xml:$dir/$name.xml" || rc=1
  done <"$dir/list.txt"
  return "$rc"
}
export -f run_cuda_tests
if [ "$built" = 1 ]; then
  if stage build-tests 150 "'$cmake_bin' --build '$build' --target forensight_tests -j 16"; then
    stage cuda-tests 120 "run_cuda_tests '$build/tests/forensight_tests' '$test_filter' '$logs/cuda-tests'"
  else
    skip cuda-tests "the test executable was not built"
  fi
else
  skip build-tests "no build: ${why_no_build}"
  skip cuda-tests "no build: ${why_no_build}"
fi
ours r18-fp16-cache 45 "$r18_flags $r18_steps --amp fp16 --cache '$work/cache-224.fsc'"
ours vit-fp16-cache 60 "$vit_flags $vit_steps --amp fp16 --cache '$work/cache-224.fsc'"
# Two pipeline stages on the one GPU, each on a CUDA stream of its own (parallel/stage_stream.h),
# against the same stages one after the other (naive); the seed's model parallelism, on the card.
ours r18-naive-cache 45 "$r18_flags $r18_steps --amp $amp --placement naive --stages cuda:0,cuda:0 --cache '$work/cache-224.fsc'"
ours r18-pipeline-cache 45 "$r18_flags $r18_steps --amp $amp --placement pipeline --stages cuda:0,cuda:0 --micro-batches 4 --cache '$work/cache-224.fsc'"

# ---- 5. The summary
card="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
summary_cmd="'$py' - '$OUT' '$amp' $r18_batch $vit_batch '${cuda_ver}' '${why_no_build}' '${card:-unknown}' <<'EOF'
$(cat <<'PYEOF'
import glob, json, os, statistics, sys, xml.etree.ElementTree as ET
out, amp, r18_batch, vit_batch, cuda, no_build, card = sys.argv[1:8]
logs = os.path.join(out, "logs")
stages = [json.loads(l) for l in open(os.path.join(out, "stages.jsonl")) if l.strip()]
WARMUP = 10

def steps_figure(name, batch):
    path = os.path.join(logs, name + ".metrics.jsonl")
    if not os.path.exists(path): return None
    recs = [json.loads(l) for l in open(path) if l.strip()]
    steps = [r["step_s"] for r in recs if r.get("kind") == "step" and r["step"] > WARMUP]
    if not steps: return None
    med = statistics.median(steps)
    return {"images_per_s": int(batch) / med, "median_step_s": med, "timed_steps": len(steps)}

def util(name):
    path = os.path.join(logs, name + ".util.csv")
    if not os.path.exists(path): return None
    v = [float(x) for x in open(path).read().split() if x.replace(".", "").isdigit()]
    nz = [i for i, x in enumerate(v) if x > 0]
    return statistics.mean(v[nz[0]:nz[-1] + 1]) if nz else (0.0 if v else None)

figures = {}
for name, batch in [(f"r18-{amp}-cache", r18_batch), (f"r18-{amp}-jpeg", r18_batch),
                    ("r18-fp32-cache", r18_batch), ("r18-fp16-cache", r18_batch),
                    (f"vit-{amp}-cache", vit_batch), ("vit-fp32-cache", vit_batch),
                    ("vit-fp16-cache", vit_batch), ("r18-naive-cache", r18_batch),
                    ("r18-pipeline-cache", r18_batch)]:
    f = steps_figure(name, batch)
    if f: figures[name] = f
for name in (f"r18-{amp}-jpeg", "r18-epoch-ours", "r18-epoch-python"):
    u = util(name)
    if u is not None: figures.setdefault(name, {})["gpu_busy_percent"] = u
ep = os.path.join(logs, "r18-epoch-ours.metrics.jsonl")
if os.path.exists(ep):
    e = [r for r in map(json.loads, filter(str.strip, open(ep))) if r.get("kind") == "epoch"]
    if e: figures.setdefault("r18-epoch-ours", {}).update(epoch_s=e[0]["epoch_s"], images_per_s=e[0]["images_per_s"])
pj = os.path.join(logs, "r18-epoch-python.json")
if os.path.exists(pj):
    p = json.load(open(pj))
    ep0 = p["epochs"][0]
    figures.setdefault("r18-epoch-python", {}).update(epoch_s=p["epoch_s"], train_s=ep0["train_s"],
        images_per_s=ep0["train_images"] / ep0["train_s"])

def ips(name): return figures.get(name, {}).get("images_per_s")
def target(name, value, op, bound, unit=""):
    if value is None: return {"target": name, "status": "skipped", "value": None, "bound": bound}
    ok = value >= bound if op == ">=" else value > bound
    return {"target": name, "status": "pass" if ok else "fail", "value": value, "bound": bound, "op": op, "unit": unit}
def ratio(a, b): return a / b if a and b else None
r18_amp, r18_jpeg, r18_32 = ips(f"r18-{amp}-cache"), ips(f"r18-{amp}-jpeg"), ips("r18-fp32-cache")
vit_amp, vit_32 = ips(f"vit-{amp}-cache"), ips("vit-fp32-cache")
targets = [
    target(f"resnet18 {amp} from the decoded cache, images/s", r18_amp, ">=", 10000),
    target(f"resnet18 {amp} from JPEG / from the cache", ratio(r18_jpeg, r18_amp), ">=", 0.9),
    target(f"vit-b/16 {amp} from the cache, images/s", vit_amp, ">=", 1500),
    target(f"vit-b/16 {amp} / fp32", ratio(vit_amp, vit_32), ">=", 1.8),
    target(f"resnet18 channels-last {amp} / fp32", ratio(r18_amp, r18_32), ">", 1.0),
    target("epoch from JPEG, ours / Python original (images/s)",
           ratio(ips("r18-epoch-ours"), ips("r18-epoch-python")), ">=", 3.0),
]
# Reported, not targets: the issue's pipeline target (>= 1.4x naive) is for 2 CPU stages.
ratios = {f"resnet18 {amp} pipeline (2 streams, M=4) / naive": ratio(ips("r18-pipeline-cache"), ips("r18-naive-cache")),
          f"resnet18 {amp} pipeline / one device": ratio(ips("r18-pipeline-cache"), r18_amp)}
skipped = [s for s in stages if s["status"] != "ok"]
summary = {"card": card, "torch_cuda": cuda, "amp": amp, "r18_batch": int(r18_batch),
           "vit_batch": int(vit_batch), "warmup_steps": WARMUP, "figures": figures,
           "targets": targets, "ratios": ratios, "stages": stages, "not_ok": skipped,
           "build": "skipped: " + no_build if no_build else "built"}
json.dump(summary, open(os.path.join(out, "gpu-summary.json"), "w"), indent=2)
tests = []
for xml in sorted(glob.glob(os.path.join(logs, "cuda-tests", "*.xml"))):
    for tc in ET.parse(xml).iter("testcase"):
        res = "failed" if tc.find("failure") is not None else ("skipped" if tc.get("result") == "skipped" or tc.find("skipped") is not None else "passed")
        tests.append((tc.get("classname") + "." + tc.get("name"), res))
if tests:
    summary["cuda_tests"] = [{"test": t, "result": r} for t, r in tests]
    json.dump(summary, open(os.path.join(out, "gpu-summary.json"), "w"), indent=2)
md = [f"# GPU check: {card}", "", f"torch CUDA {cuda}; AMP for the targets: {amp}; batch {r18_batch} (ResNet18), {vit_batch} (ViT-B/16), 224 px, median step after {WARMUP} warm-up steps.", ""]
if no_build: md += [f"**Build skipped**: {no_build} (the Python original still ran where it could).", ""]
md += ["| target | value | bound | result |", "|---|---|---|---|"]
for t in targets:
    v = "-" if t["value"] is None else f"{t['value']:.2f}"
    md.append(f"| {t['target']} | {v} | {t.get('op', '')} {t['bound']} | {t['status']} |")
md += [""] + [f"- {k}: " + ("-" if v is None else f"{v:.2f}x") for k, v in ratios.items()]
md += ["", "| run | images/s | median step s | epoch s | GPU busy % |", "|---|---|---|---|---|"]
for k, f in figures.items():
    g = lambda key, fmt: fmt.format(f[key]) if f.get(key) is not None else "-"
    md.append(f"| {k} | {g('images_per_s', '{:.0f}')} | {g('median_step_s', '{:.4f}')} | {g('epoch_s', '{:.2f}')} | {g('gpu_busy_percent', '{:.0f}')} |")
if tests:
    md += ["", "CUDA tests: " + ", ".join(f"{r} {sum(1 for _, x in tests if x == r)}" for r in ("passed", "failed", "skipped")), ""]
    md += [f"- {t}: {r}" for t, r in tests]
md += ["", "| stage | status | seconds | note |", "|---|---|---|---|"]
md += [f"| {s['stage']} | {s['status']} | {s['seconds']} | {s['note']} |" for s in stages]
open(os.path.join(out, "gpu-summary.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PYEOF
)
EOF"
if [ "$mode" = dry-run ]; then
  echo "[summary] $OUT/gpu-summary.json and $OUT/gpu-summary.md from $OUT/stages.jsonl and $logs/"
  exit 0
fi
deadline_s=$((SECONDS + 30))  # the summary runs even past the study's deadline
stage summary 30 "$summary_cmd"
cp "$build"/CMakeFiles/CMake*.log "$logs/" 2>/dev/null
log "done in $((SECONDS - start_s)) s: $OUT/gpu-summary.md"
grep -q '"status": "failed"' "$stages_file" && exit 1
exit 0
