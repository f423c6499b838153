# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this file
# The one place that pins the emulated POWER host: guest kernel, guest modules, cache layout.
# Sourced by provision.sh and run.sh; defines variables and nothing else.

# Guest kernel, chosen by POWER_HOST_KERNEL (default 6.12). Each entry pins the kernel release
# (KERNEL_VERSION, the name under /lib/modules and boot/vmlinux-*), the package(s) as name=version (all are
# extracted into one kernel tree) and the suite that serves them.
#   6.12  Debian's 6.12.95 from bookworm-backports: the tested kernel (see shared/notes/power-host.md).
#   trixie  the 6.12 LTS line as Debian 13 ships it: 6.12.107 (the index also lists 6.12.117, whose .deb the
#           mirror answered 404 on 2026-12-07), the same line as 6.12, twelve stable releases on.
#   6.1   bookworm's own 6.1 (vfio-pci cannot bind there, see shared/notes/power-host.md §3).
#   sid   unstable's kernel, split into linux-binary-/linux-modules-/linux-base- packages.
POWER_HOST_KERNEL=${POWER_HOST_KERNEL:-6.12}
case $POWER_HOST_KERNEL in
  6.12)
    KERNEL_VERSION=6.12.95+deb12-powerpc64le
    KERNEL_PACKAGES=("linux-image-$KERNEL_VERSION=6.12.95-1~bpo12+1")
    KERNEL_SUITE=bookworm-backports
    ;;
  trixie)
    KERNEL_VERSION=6.12.107+deb13-powerpc64le
    KERNEL_PACKAGES=("linux-image-$KERNEL_VERSION=6.12.107-1")
    KERNEL_SUITE=trixie
    ;;
  6.1)
    KERNEL_VERSION=6.1.0-50-powerpc64le
    KERNEL_PACKAGES=("linux-image-$KERNEL_VERSION=6.1.176-1")
    KERNEL_SUITE=bookworm
    ;;
  sid)
    KERNEL_VERSION=7.2.13+deb14-powerpc64le
    KERNEL_PACKAGES=("linux-binary-$KERNEL_VERSION=7.2.13-1" "linux-modules-$KERNEL_VERSION=7.2.13-1" "linux-base-$KERNEL_VERSION=7.2.13-1")
    KERNEL_SUITE=sid
    # The split packages put an (uncompressed ELF) image beside the modules, not in boot/.
    KERNEL_IMAGE_RELATIVE=usr/lib/modules/$KERNEL_VERSION/vmlinuz
    ;;
  *)
    echo "POWER_HOST_KERNEL=$POWER_HOST_KERNEL is not one of: 6.12 trixie 6.1 sid" >&2
    return 64 2>/dev/null || exit 64
    ;;
esac
# The image qemu boots, inside the extracted tree (checked after extraction).
KERNEL_IMAGE_RELATIVE=${KERNEL_IMAGE_RELATIVE:-boot/vmlinux-$KERNEL_VERSION}

# Suites: the guest userland (busybox, Node rootfs) comes from the main suite, the kernel from backports.
DEBIAN_SUITE=bookworm
BACKPORTS_SUITE=bookworm-backports
GUEST_ARCH=ppc64el

# Modules loaded in the guest; the initramfs holds their dependency closure.
GUEST_MODULES=(kvm-hv vfio-pci vfio_iommu_spapr_tce 9p 9pnet_virtio virtio_pci)

# Node rootfs recipe (mmdebstrap --variant=extract). Changing it rebuilds the rootfs.
ROOTFS_INCLUDE=nodejs

# Host tools (Debian package names). provision.sh installs those that are missing.
HOST_PACKAGES=(qemu-system-ppc gcc-powerpc64le-linux-gnu g++-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
  linux-libc-dev-ppc64el-cross cpio xz-utils kmod mmdebstrap bc)

# The apt source file provision.sh writes (only when the existing configuration does not already cover it).
APT_SOURCE_FILE=/etc/apt/sources.list.d/power-host-ppc64el.sources
# A kernel suite other than bookworm(-backports) gets its own source file, plus an apt preference that
# lowers it to priority 100 so busybox and the host tools still resolve to bookworm's versions.
EXTRA_APT_SOURCE_FILE=/etc/apt/sources.list.d/power-host-ppc64el-$KERNEL_SUITE.sources
EXTRA_APT_PREFERENCES_FILE=/etc/apt/preferences.d/power-host-ppc64el-$KERNEL_SUITE

POWER_HOST_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$POWER_HOST_SCRIPTS/../.." && pwd)

# Cache layout; everything downloaded or built lives here (git-ignored).
# The guest sees REPO_ROOT over 9p at /mnt, so these paths are also reachable from inside it.
CACHE_RELATIVE=.cache/power-host
CACHE_DIR=$REPO_ROOT/$CACHE_RELATIVE
# Shared by all kernels: busybox (its .deb in debs/), the Node rootfs, the NVMe image, the locks.
DEBS_DIR=$CACHE_DIR/debs
BUSYBOX_TREE=$CACHE_DIR/busybox
ROOTFS_DIR=$CACHE_DIR/rootfs
# Per kernel: its .debs, extracted tree, initramfs and results. The default kernel (6.12) keeps the
# original layout directly under $CACHE_DIR (the tests and benches read .cache/power-host/kernel/...);
# the others live under kernels/<name>/.
if [[ $POWER_HOST_KERNEL == 6.12 ]]; then
  KERNEL_CACHE_RELATIVE=$CACHE_RELATIVE
else
  KERNEL_CACHE_RELATIVE=$CACHE_RELATIVE/kernels/$POWER_HOST_KERNEL
fi
KERNEL_CACHE_DIR=$REPO_ROOT/$KERNEL_CACHE_RELATIVE
KERNEL_DEBS_DIR=$KERNEL_CACHE_DIR/debs
KERNEL_TREE=$KERNEL_CACHE_DIR/kernel
KERNEL_IMAGE=$KERNEL_TREE/$KERNEL_IMAGE_RELATIVE
INITRAMFS=$KERNEL_CACHE_DIR/initramfs.cpio.gz
# The NVMe controller's backing image (scripts/power-host/nvme-image.mjs): NVME_IMAGE_MIB of a known pattern.
NVME_IMAGE=$CACHE_DIR/nvme.img
NVME_IMAGE_MIB=32
# The machine (run.sh POWER_HOST_MACHINE): pseries keeps results/, PowerNV gets its own beside it.
POWER_HOST_MACHINE=${POWER_HOST_MACHINE:-pseries}
case $POWER_HOST_MACHINE in
  pseries) RESULTS_RELATIVE=$KERNEL_CACHE_RELATIVE/results ;;
  powernv9) RESULTS_RELATIVE=$KERNEL_CACHE_RELATIVE/results-powernv9 ;;
  *)
    echo "POWER_HOST_MACHINE=$POWER_HOST_MACHINE is not one of: pseries powernv9" >&2
    return 64 2>/dev/null || exit 64
    ;;
esac
RESULTS_DIR=$REPO_ROOT/$RESULTS_RELATIVE

# Exit codes shared by provision.sh and run.sh (run.sh otherwise passes on the guest command's own code).
EXIT_CANNOT_PROVISION=77   # not root, a package cannot be had, no Debian mirror in the apt config (a "skip")
EXIT_USAGE=64
EXIT_TIMEOUT=124           # the guest ran past --timeout and was killed
EXIT_INFRASTRUCTURE=125    # qemu did not start, the guest crashed, no exit code came back, a build step failed
