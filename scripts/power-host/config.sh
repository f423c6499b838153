# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this file
# The one place that pins the emulated POWER host: guest kernel, guest modules, cache layout.
# Sourced by provision.sh and run.sh; defines variables and nothing else.

# Guest kernel: Debian's ppc64el 6.12 from bookworm-backports (6.1 cannot bind vfio-pci, see
# shared/notes/power-host.md §3). The version is part of the package name, so both are pinned.
KERNEL_VERSION=6.12.95+deb12-powerpc64le
KERNEL_PACKAGE=linux-image-${KERNEL_VERSION}
KERNEL_PACKAGE_VERSION=6.12.95-1~bpo12+1

# Suites: the guest userland (busybox, Node rootfs) comes from the main suite, the kernel from backports.
DEBIAN_SUITE=bookworm
BACKPORTS_SUITE=bookworm-backports
GUEST_ARCH=ppc64el

# Modules loaded in the guest; the initramfs holds their dependency closure.
GUEST_MODULES=(kvm-hv vfio-pci vfio_iommu_spapr_tce 9p 9pnet_virtio)

# Node rootfs recipe (mmdebstrap --variant=extract). Changing it rebuilds the rootfs.
ROOTFS_INCLUDE=nodejs

# Host tools (Debian package names). provision.sh installs those that are missing.
HOST_PACKAGES=(qemu-system-ppc gcc-powerpc64le-linux-gnu g++-powerpc64le-linux-gnu libc6-dev-ppc64el-cross
  linux-libc-dev-ppc64el-cross cpio xz-utils kmod mmdebstrap bc)

# The apt source file provision.sh writes (only when the existing configuration does not already cover it).
APT_SOURCE_FILE=/etc/apt/sources.list.d/power-host-ppc64el.sources

POWER_HOST_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$POWER_HOST_SCRIPTS/../.." && pwd)

# Cache layout; everything downloaded or built lives here (git-ignored).
# The guest sees REPO_ROOT over 9p at /mnt, so these paths are also reachable from inside it.
CACHE_RELATIVE=.cache/power-host
CACHE_DIR=$REPO_ROOT/$CACHE_RELATIVE
DEBS_DIR=$CACHE_DIR/debs
KERNEL_TREE=$CACHE_DIR/kernel
KERNEL_IMAGE=$KERNEL_TREE/boot/vmlinux-$KERNEL_VERSION
BUSYBOX_TREE=$CACHE_DIR/busybox
ROOTFS_DIR=$CACHE_DIR/rootfs
INITRAMFS=$CACHE_DIR/initramfs.cpio.gz
# The NVMe controller's backing image (scripts/power-host/nvme-image.mjs): NVME_IMAGE_MIB of a known pattern.
NVME_IMAGE=$CACHE_DIR/nvme.img
NVME_IMAGE_MIB=32
RESULTS_RELATIVE=$CACHE_RELATIVE/results
RESULTS_DIR=$REPO_ROOT/$RESULTS_RELATIVE

# Exit codes shared by provision.sh and run.sh (run.sh otherwise passes on the guest command's own code).
EXIT_CANNOT_PROVISION=77   # not root, a package cannot be had, no Debian mirror in the apt config (a "skip")
EXIT_USAGE=64
EXIT_TIMEOUT=124           # the guest ran past --timeout and was killed
EXIT_INFRASTRUCTURE=125    # qemu did not start, the guest crashed, no exit code came back, a build step failed
