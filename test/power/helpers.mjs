// Shared by the emulated-POWER-host suites (node:test on the guest's Node 18).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { release } from 'node:os';
import { basename } from 'node:path';
import { KvmVfioError, traceSyscalls } from '../../dist/index.js';

/** The PCI functions of IOMMU group `group`, from sysfs (none when it does not exist). */
function groupDevices(group) {
  try {
    return readdirSync(`/sys/kernel/iommu_groups/${group}/devices`).sort();
  } catch {
    return [];
  }
}

function driverOf(address) {
  try {
    return basename(readlinkSync(`/sys/bus/pci/devices/${address}/driver`));
  } catch {
    return undefined;
  }
}

/**
 * The devices the emulated host binds to vfio-pci, one per PHB (scripts/power-host). Their addresses
 * come from the groups: on the pseries partition a device sits on its PHB's bus 0 (0002:00:00.0), on
 * PowerNV behind the PHB4's root port (0002:01:00.0). The fallbacks are the partition's.
 */
export const GROUP_TESTDEV = 1; // pci-testdev 1b36:0005
export const GROUP_EDU = 2; // edu 1234:11e8
export const DEVICE_TESTDEV = groupDevices(GROUP_TESTDEV)[0] ?? '0001:00:00.0';
export const DEVICE_EDU = groupDevices(GROUP_EDU)[0] ?? '0002:00:00.0';
export const GROUP_UNVIABLE = 3; // pci-testdev (vfio-pci) + virtio-rng (virtio-pci) on one PHB
/** The virtio-rng device of group 3, bound to virtio-pci. */
export const DEVICE_UNVIABLE_HOST = groupDevices(GROUP_UNVIABLE).find((d) => driverOf(d) !== 'vfio-pci') ?? '0003:00:02.0';
export const GROUP_THIRD = 4; // pci-testdev, alone on PHB 4 (POWER_HOST_EXTRA_GROUPS, default 1)

/** The kernel the host runs (scripts/power-host/config.sh POWER_HOST_KERNEL), and what the suite found it does. */
const [KERNEL_MAJOR, KERNEL_MINOR] = release().split('.').map(Number);
export const KERNEL_LINE = `${KERNEL_MAJOR}.${KERNEL_MINOR}`;
// vfio_group_find_or_alloc (drivers/vfio/vfio_main.c) refuses a device without IOMMU_CAP_CACHE_COHERENCY, which
// powerpc's TCE IOMMU reports from 6.2 (spapr_tce_iommu_ops, arch/powerpc/kernel/iommu.c): on 6.1 the
// emulated host's vfio-pci probes fail with EINVAL and there are no /dev/vfio/N.
export const VFIO_PCI_BINDS = KERNEL_MAJOR > 6 || (KERNEL_MAJOR === 6 && KERNEL_MINOR >= 2);
// KVM_CAP_SPAPR_TCE_VFIO (kvm_vm_ioctl_check_extension, arch/powerpc/kvm/powerpc.c) was 0 on pseries hosts
// from ~5.0 until b4392813bbc3 (2025): Debian's 6.12.95 has the fix, 6.1.176 does not.
export const SPAPR_TCE_VFIO = KERNEL_MAJOR > 6 || (KERNEL_MAJOR === 6 && KERNEL_MINOR >= 12) ? 1 : 0;
/** describe() options for suites that need VFIO groups: skipped, saying why, where vfio-pci cannot bind. */
export const NEEDS_VFIO_GROUPS = VFIO_PCI_BINDS ? {} : { skip: `Linux ${KERNEL_LINE} cannot bind vfio-pci on powerpc (probe EINVAL: no IOMMU_CAP_CACHE_COHERENCY before 6.2), so there are no VFIO groups` };

/**
 * The emulated host's platform (/proc/cpuinfo "platform"): 'pseries' (a partition, kvm-hv nested) or
 * 'powernv' (bare metal: OPAL, the PHB4's IODA2 TCE tables, kvm-hv not nested; POWER_HOST_MACHINE=powernv9).
 */
export const PLATFORM = /^platform\s*:\s*PowerNV/m.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'powernv' : 'pseries';
export const POWERNV = PLATFORM === 'powernv';
/**
 * Where the platform puts a v2 container's first new DMA window. PowerNV: window slot 0 is the 32-bit
 * window at 0 and slot 1 starts at bit 59 (TVE #1: pnv_pci_ioda2_create_table, platforms/powernv/pci-ioda.c);
 * a window created while the default one is still pending takes slot 0. pseries: QEMU places every
 * dynamic window at its dma64 address, 2^59 (hw/ppc/spapr_pci.c, ibm,create-pe-dma-window).
 */
export const FIRST_NEW_WINDOW_START = POWERNV ? 0n : 1n << 59n;
/**
 * The default 32-bit DMA window's size (VFIO_IOMMU_SPAPR_TCE_GET_INFO dma32_window_size; v1's only
 * window). pseries: QEMU's PHB default, 1 GiB (hw/ppc/spapr_pci.c). PowerNV: the PE's 32-bit window
 * spans up to the PHB's 32-bit MMIO base, 2 GiB on QEMU's PHB4 (tce32_size = m32_pci_base,
 * pnv_pci_ioda2_setup_dma_pe, platforms/powernv/pci-ioda.c).
 */
export const DEFAULT_WINDOW_SIZE = POWERNV ? 2n << 30n : 1n << 30n;
/**
 * A bus offset where a fresh container's first 64K-page window does not land, so attach and
 * prepareDmaWindow fail with ERR_VFIO_WINDOW_PLACEMENT (hint: busOffset 2^59). pseries: 0 (the default
 * window gives way, and QEMU puts the new one at 2^59). PowerNV: 2^40 (the default window is made
 * first, in slot 0 at 0, so ours takes slot 1 at 2^59: tce_iommu_ioctl CREATE, drivers/vfio/vfio_iommu_spapr_tce.c).
 */
export const MISPLACED_64K_WINDOW = POWERNV ? 1n << 40n : 0n;

/**
 * Why Linux guests that use KVM's in-kernel XICS do not boot here (undefined: they do). Observed on
 * the emulated powernv9 (2026-12-07), cause not pinned down: on a POWER9 host that XICS is emulated on
 * the XIVE (arch/powerpc/kvm/book3s_xive.c), and the L2 guest got no device interrupt (intxDelivered
 * 0 with KVM_IRQFD), RCU stalls and a task blocked for 240 s; the same guest with the XICS in
 * JavaScript boots and reads its NVMe disk. Probably QEMU's TCG XIVE model does not raise what wakes
 * a ceded vCPU (the escalation interrupt, xive_esc_irq). Real POWER9 hosts run XICS-on-XIVE guests.
 */
export const KERNEL_XICS_GUESTS_STALL = POWERNV
  ? 'PowerNV under TCG: a Linux guest on KVM\'s XICS-on-XIVE gets no device interrupts and stalls (observed; the XICS in JavaScript works there)'
  : undefined;

/** TAINT_WARN (bit 9) of /proc/sys/kernel/tainted: set once the kernel hit a WARN. */
export const TAINT_WARN = 1 << 9;
export function kernelTaint() {
  return Number(readFileSync('/proc/sys/kernel/tainted', 'utf8'));
}
/** The taint when the suite started (helpers load before any test runs). */
export const TAINT_AT_START = kernelTaint();

import { openFds } from '../support/fds.mjs';

export { openFdCount, openFds } from '../support/fds.mjs';

/** Runs `fn`; returns its result and the fd numbers that appeared meanwhile (those of the objects it made). */
export function fdsOpenedBy(fn) {
  const before = new Set(openFds());
  const result = fn();
  return { result, fds: openFds().filter((fd) => !before.has(fd)) };
}

/**
 * Asserts `fn` throws a KvmVfioError with these fields; `hint` is a substring of error.hint.
 * Returns the error. When `fn` succeeds instead, what it returned is closed before the assertion
 * fails, so a group it opened cannot make every later test fail with EBUSY.
 */
export function expectKvmError(fn, { code, request, syscall, hint, step }) {
  let caught;
  try {
    const unexpected = fn();
    if (typeof unexpected?.close === 'function') unexpected.close();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught, `expected a KvmVfioError ${code}, nothing was thrown`);
  assert.ok(caught instanceof KvmVfioError, `expected a KvmVfioError, got ${caught?.stack ?? caught}`);
  assert.equal(caught.code, code, caught.message);
  if (request !== undefined) assert.equal(caught.request, request, caught.message);
  if (syscall !== undefined) assert.equal(caught.syscall, syscall, caught.message);
  if (step !== undefined) assert.equal(caught.step, step, caught.message);
  if (hint !== undefined) assert.ok(caught.hint.includes(hint), `hint "${caught.hint}" lacks "${hint}"`);
  return caught;
}

/** Asserts that calling `fn` on a closed object throws ERR_KVM_CLOSED and issues no syscall. */
export function expectClosedWithoutSyscall(fn) {
  const { error, syscalls } = traceSyscalls(fn);
  assert.ok(error instanceof KvmVfioError, `expected ERR_KVM_CLOSED, got ${error}`);
  assert.equal(error.code, 'ERR_KVM_CLOSED');
  assert.deepEqual(syscalls, []);
}

/**
 * Node 18 has no `using`: runs `body(use)` and disposes everything passed to `use`, last first,
 * also when `body` throws or its promise rejects.
 */
export async function scoped(body) {
  const resources = [];
  const use = (resource) => {
    resources.push(resource);
    return resource;
  };
  try {
    return await body(use);
  } finally {
    for (const resource of resources.reverse()) resource[Symbol.dispose]();
  }
}
