#!/usr/bin/env bash
# Cross-builds the addon for ppc64le (process.arch 'ppc64') into prebuilds/linux-ppc64/, with
# Debian's powerpc64le-linux-gnu toolchain and the ppc64el uapi headers, which give the powerpc
# ioctl encoding. Installs the cross compiler from Debian when it is missing (needs root).
# The host build in build/ is left alone: the cross build runs in .cache/ppc64-build/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work="$root/.cache/ppc64-build"
out="$root/prebuilds/linux-ppc64"
cross_packages=(g++-powerpc64le-linux-gnu libc6-dev-ppc64el-cross linux-libc-dev-ppc64el-cross)

ensure_cross_compiler() {
  command -v powerpc64le-linux-gnu-g++ >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "build-ppc64: powerpc64le-linux-gnu-g++ is missing and installing it needs root: apt-get install ${cross_packages[*]}" >&2
    exit 3
  fi
  echo "build-ppc64: installing ${cross_packages[*]} from Debian"
  apt-get install -y --no-install-recommends "${cross_packages[@]}" >/dev/null || {
    apt-get update >/dev/null 2>&1 || true
    apt-get install -y --no-install-recommends "${cross_packages[@]}" >/dev/null
  } || { echo "build-ppc64: could not install ${cross_packages[*]} (see apt's output above)" >&2; exit 3; }
}

stage_sources() {
  mkdir -p "$work"
  rm -rf "$work/native"
  cp -r "$root/native" "$root/binding.gyp" "$work/"
  ln -sfn "$root/node_modules" "$work/node_modules"
}

cross_build() {
  local nodedir
  nodedir=$(node -e "import('$root/scripts/node-toolchain.mjs').then(m => console.log(m.nodeHeadersDir()))")
  (cd "$work" && CC=powerpc64le-linux-gnu-gcc CXX=powerpc64le-linux-gnu-g++ LINK=powerpc64le-linux-gnu-g++ \
    AR=powerpc64le-linux-gnu-ar CC_host=gcc CXX_host=g++ \
    node "$root/node_modules/node-gyp/bin/node-gyp.js" rebuild --arch=ppc64 --nodedir="$nodedir" >build.log 2>&1) || {
    tail -30 "$work/build.log" >&2
    echo "build-ppc64: the cross build failed (full log: $work/build.log)" >&2
    exit 1
  }
  mkdir -p "$out"
  cp "$work/build/Release/kvm_vfio_spapr.node" "$out/kvm-vfio-spapr.node"
}

ensure_cross_compiler
stage_sources
cross_build
file "$out/kvm-vfio-spapr.node" 2>/dev/null || ls -l "$out/kvm-vfio-spapr.node"
