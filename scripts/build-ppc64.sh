#!/usr/bin/env bash
# Cross-builds the addon for ppc64le (process.arch 'ppc64') into prebuilds/linux-ppc64/kvm-vfio-spapr.node,
# with Debian's powerpc64le-linux-gnu toolchain and the ppc64el uapi headers, which give the powerpc
# ioctl encoding. Installs the cross compiler from Debian when it is missing (needs root; exit 3 when
# it cannot), then runs prebuildify through scripts/prebuild.mjs (staged in .cache/prebuild/linux-ppc64/,
# so the host build in build/ is left alone). Also builds the test guest's programs (examples/spapr-vmm/guest/).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

ensure_cross_compiler
bash "$root/examples/spapr-vmm/guest/build.sh"
exec node "$root/scripts/prebuild.mjs" linux-ppc64
