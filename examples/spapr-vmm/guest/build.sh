#!/usr/bin/env bash
# Cross-builds the test guest's programs (static ppc64le) into .cache/spapr-vmm/: the POWER suite packs
# them into the Linux guest's initramfs from inside the emulated host, which has no compiler.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/../../../.cache/spapr-vmm
mkdir -p "$out"
powerpc64le-linux-gnu-gcc -static -O2 -Wall -Werror -o "$out/direct-read" "$here/direct-read.c"
