#!/usr/bin/env bash
# Installs what Forensight needs on a fresh Debian 12 machine: Debian's -dev packages and a Python
# virtual environment holding the pinned torch wheel (LibTorch for C++, and the Python peers the
# benchmarks compare against). Idempotent and quick when everything is already there, so every
# make target can call it. The venv lives outside the checkout so later clones reuse it.
set -euo pipefail

TORCH_VERSION="${FORENSIGHT_TORCH_VERSION:-2.11.0}"
TORCHVISION_VERSION="${FORENSIGHT_TORCHVISION_VERSION:-0.26.0}"
VENV="${FORENSIGHT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/forensight/venv-torch-${TORCH_VERSION}}"

APT_PACKAGES=(
  cmake g++ make pkg-config python3 python3-venv
  libturbojpeg0-dev libpng-dev libwebp-dev zlib1g-dev libcairo2-dev libjemalloc-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcpp-httplib-dev libgloo-dev
  libgtest-dev
  # scripts/build.sh compiles through ccache, so a second clone on the machine reuses the objects
  ccache
  # `make fuzz` (fuzz/, issue #18): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # the built-in dataset's photographs (`forensight data synth --photos`)
  mate-backgrounds lomiri-wallpapers-16.04
  # the web app: Bootstrap and Chart.js (built into `forensight serve`); its browser test and PDF check
  libjs-bootstrap5 libjs-chart.js chromium chromium-driver poppler-utils
)
PIP_PACKAGES=(
  "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"
  pillow numpy scikit-learn safetensors "transformers==5.24.0" "matplotlib==3.11.2"
  "selenium==4.51.0"  # drives Debian's chromium in tests/serve/browser_test.py
  "timm==1.0.31"  # the timm ViTs `forensight import` reads (tests/train/interchange_reference.py)
  # `bench serve`'s Python peer server (bench/python/serve_peer.py)
  "fastapi==0.165.0" "uvicorn[standard]==0.55.0"
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The stamp holds the package list it was made with, so adding a package here updates old venvs.
stamp="$VENV/.forensight-ok"
wanted="${PIP_PACKAGES[*]}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating Python environment $VENV (torch ${TORCH_VERSION}; first time only)" >&2
  PY="${FORENSIGHT_PYTHON:-python3}"
  "$PY" -m venv "$VENV" 2>/dev/null || { "$PY" -m pip install -q virtualenv && "$PY" -m virtualenv -q "$VENV"; }
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "bootstrap: installing Python packages into $VENV: $wanted" >&2
  "$VENV/bin/python" -m pip install -q "${PIP_PACKAGES[@]}"
  "$VENV/bin/python" -c "import torch, torchvision; print('bootstrap: torch', torch.__version__, 'torchvision', torchvision.__version__)" >&2
  printf '%s\n' "$wanted" > "$stamp"
fi
echo "$VENV"
