#!/usr/bin/env bash
# npm run demo: boots the emulated POWER host and runs, in it, the doctor, the example VMM flow
# (examples/attach-vfio-group.ts, each step with its timing) and the TCE acceleration example
# (examples/tce-acceleration.ts: exit counts for cases A, B, C and the DMA check), and the reference
# VMM (examples/spapr-vmm) booting the host's own Debian kernel as a guest to a busybox marker.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "==> build (TypeScript, examples, ppc64le addon)"
node node_modules/typescript/bin/tsc -p tsconfig.json
node node_modules/typescript/bin/tsc -p tsconfig.examples.json
bash scripts/build-ppc64.sh >/dev/null

echo "==> the guest's initramfs (busybox from the emulated host's cache)"
bash scripts/power-host/provision.sh
mkdir -p .cache/spapr-vmm
node dist/examples/spapr-vmm/make-initramfs.js .cache/power-host/busybox/bin/busybox .cache/spapr-vmm/initrd.cpio

echo "==> emulated POWER host: doctor, then the examples"
exec bash scripts/power-host/run.sh -- sh -c '
  echo "--- npx kvm-vfio-spapr doctor"; node dist/cli.js doctor &&
  echo "--- examples/attach-vfio-group.ts"; node dist/examples/attach-vfio-group.js 1 &&
  echo "--- examples/tce-acceleration.ts"; node dist/examples/tce-acceleration.js 2 &&
  echo "--- examples/spapr-vmm: Linux $(uname -r) as a guest, to its initramfs marker" &&
  node dist/examples/spapr-vmm/main.js --kernel .cache/power-host/kernel/boot/vmlinux-$(uname -r) \
    --initrd .cache/spapr-vmm/initrd.cpio --memory 512 --marker "SPAPR-VMM: userspace up"'
