#!/usr/bin/env bash
# Fetches the Debian packages Forensight needs to build on a lent GPU machine that has no network
# (scripts/gpu-check.sh runs there): the -dev packages, the runtime libraries they link beyond a
# base system, pkgconf and a few photographs, unpacked without root into .gpu-deps/prefix.
# The machine receives at most 64 MiB of ignored paths, so the prefix must stay under 56 MiB.
# Usage: scripts/gpu-fetch-deps.sh            (idempotent; runs here, with network)
#        then carry .gpu-deps/prefix to the GPU machine and run scripts/gpu-check.sh there.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
deps="$here/.gpu-deps"
debs="$deps/debs"
prefix="$deps/prefix"
limit_mib="${GPU_DEPS_LIMIT_MIB:-56}"
photos_kept="${GPU_DEPS_PHOTOS:-6}"

# What CMakeLists.txt finds (headers, .so links, .pc and CMake config files). libcpp-httplib-dev
# and libgloo-dev are in bootstrap.sh's list but no source includes them and CMake does not look
# for them: left out to save space.
DEV_PACKAGES=(
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev zlib1g-dev
  libcairo2-dev libjemalloc-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libgtest-dev
)
# The shared libraries the executables load, their own shared-library closure (computed below
# from this machine's copies), pkgconf for CMake's pkg_check_modules, and the photographs.
RUNTIME_ROOTS=(
  libturbojpeg.so.0 libjpeg.so.62 libpng16.so.16 libwebp.so.7 libz.so.1
  libcairo.so.2 libjemalloc.so.2 libspdlog.so.1.10 libfmt.so.9 libyaml-cpp.so.0.7
)
EXTRA_PACKAGES=(pkgconf-bin libpkgconf3 mate-backgrounds)
# Every machine that runs the torch wheel has these: never shipped.
BASE_PACKAGES=" libc6 libgcc-s1 libstdc++6 libc-bin gcc-12-base libcrypt1 libselinux1 "

log() { echo "gpu-fetch-deps: $*" >&2; }

# The package owning a library file, trying the merged-/usr spellings dpkg may have recorded.
owner_of() {
  local path="$1" p
  for p in "$path" "${path#/usr}" "/usr$path"; do
    dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1 && return 0
  done
  dpkg -S "*/$(basename "$path")" 2>/dev/null | head -1 | cut -d: -f1
}

runtime_packages() {
  local lib path
  for lib in "${RUNTIME_ROOTS[@]}"; do
    path="/usr/lib/x86_64-linux-gnu/$lib"
    echo "$path"
    ldd "$path" | awk '/=>/ {print $3}'
  done | sort -u | while read -r path; do owner_of "$path"; done | sort -u
}

# ---- 1. Decide the package list
for lib in "${RUNTIME_ROOTS[@]}"; do
  [ -e "/usr/lib/x86_64-linux-gnu/$lib" ] ||
    { log "/usr/lib/x86_64-linux-gnu/$lib is missing here: run scripts/bootstrap.sh first"; exit 1; }
done
mapfile -t runtime < <(runtime_packages)
packages=()
for p in "${DEV_PACKAGES[@]}" "${runtime[@]}" "${EXTRA_PACKAGES[@]}"; do
  [[ "$BASE_PACKAGES" == *" $p "* ]] && continue
  [[ " ${packages[*]} " == *" $p "* ]] && continue
  packages+=("$p")
done

# ---- 2. Download what is not already here (apt-get download needs no root)
mkdir -p "$debs"
missing=()
for p in "${packages[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "downloading ${#missing[@]} packages: ${missing[*]}"
  (cd "$debs" && apt-get download -q "${missing[@]}" >/dev/null)
fi

# ---- 3. Unpack into a fresh prefix
rm -rf "$prefix"
mkdir -p "$prefix"
for p in "${packages[@]}"; do
  for deb in "$debs/${p}"_*.deb; do dpkg-deb -x "$deb" "$prefix"; done
done

# ---- 4. Drop what the build and the study do not use
rm -rf "$prefix"/usr/share/{doc,man,info,lintian,locale,bug,gtk-doc,gnome-background-properties}
rm -rf "$prefix"/usr/share/mate-background-properties "$prefix"/usr/src
# Static archives: only GoogleTest's (its CMake config names them; the rest link shared).
find "$prefix" -name '*.a' ! -name 'libgtest*.a' ! -name 'libgmock*.a' -delete
# Photographs: the few smallest JPEGs of the nature set are enough for `forensight data synth`.
backgrounds="$prefix/usr/share/backgrounds/mate"
if [ -d "$backgrounds" ]; then
  keep="$(mktemp -d)"
  find "$backgrounds" -name '*.jpg' -printf '%s %p\n' | sort -n | head -n "$photos_kept" |
    while read -r _ f; do cp "$f" "$keep/"; done
  rm -rf "$backgrounds"
  mkdir -p "$backgrounds/nature"
  mv "$keep"/*.jpg "$backgrounds/nature/"
  rmdir "$keep"
fi

# ---- 5. Make the pkg-config files relocatable: paths relative to the .pc file's own folder
while IFS= read -r pc; do
  dir="$(dirname "$pc")"
  rel="$(realpath --relative-to="$dir" "$prefix/usr")"
  sed -i -E "s#^([A-Za-z_]+)=/usr#\1=\${pcfiledir}/${rel}#" "$pc"
done < <(find "$prefix" -name '*.pc')
# cairo.pc requires X11, fontconfig, freetype and pixman .pc files for its flags, though cairo.h
# includes none of their headers and the runtime closure above brings their libraries.
cairo_pc="$(find "$prefix" -name cairo.pc | head -1)"
[ -n "$cairo_pc" ] && sed -i -E '/^Requires(\.private)?:/d' "$cairo_pc"

# ---- 6. Report and check the size
size_bytes="$(du -sb "$prefix" | cut -f1)"
size_mib="$(awk -v b="$size_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
echo "gpu-fetch-deps: ${#packages[@]} packages into $prefix:"
for p in "${packages[@]}"; do
  for deb in "$debs/${p}"_*.deb; do printf '  %s\n' "$(basename "$deb")"; done
done
echo "gpu-fetch-deps: prefix size ${size_mib} MiB (limit ${limit_mib} MiB)"
if [ "$size_bytes" -gt $((limit_mib * 1048576)) ]; then
  echo "gpu-fetch-deps: prefix is ${size_mib} MiB, over the ${limit_mib} MiB limit" >&2
  exit 1
fi
