// Shared by the emulated-POWER-host suites (node:test on the guest's Node 18).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { KvmVfioError, traceSyscalls } from '../../dist/index.js';
import { PLATFORM } from './platform.mjs';

export { DEVICE_EDU, DEVICE_TESTDEV, DEVICE_UNVIABLE_HOST, GROUP_EDU, GROUP_TESTDEV, GROUP_THIRD, GROUP_UNVIABLE } from './groups.mjs';

/** The kernel the host runs (scripts/power-host/config.sh POWER_HOST_KERNEL), and what the suite found it does. */
const [KERNEL_MAJOR, KERNEL_MINOR] = release().split('.').map(Number);
export const KERNEL_LINE = `${KERNEL_MAJOR}.${KERNEL_MINOR}`;
// vfio_group_find_or_alloc (drivers/vfio/vfio_main.c) refuses a device without IOMMU_CAP_CACHE_COHERENCY, which
// powerpc's TCE IOMMU reports from 6.2 (spapr_tce_iommu_ops, arch/powerpc/kernel/iommu.c): on 6.1 the
// emulated host's vfio-pci probes fail with EINVAL and there are no /dev/vfio/N.
export const VFIO_PCI_BINDS = KERNEL_MAJOR > 6 || (KERNEL_MAJOR === 6 && KERNEL_MINOR >= 2);
// KVM_CAP_SPAPR_TCE_VFIO (kvm_vm_ioctl_check_extension, arch/powerpc/kvm/powerpc.c) tested CPU_FTR_HVMODE
// from ~5.0 until b4392813bbc3 (2025): 0 on pseries hosts, 1 on bare metal. Debian's 6.12.95 has the fix,
// 6.1.176 does not (measured there: 0 in the partition, 1 on PowerNV).
export const SPAPR_TCE_VFIO = KERNEL_MAJOR > 6 || (KERNEL_MAJOR === 6 && KERNEL_MINOR >= 12) || PLATFORM === 'powernv' ? 1 : 0;
/** describe() options for suites that need VFIO groups: skipped, saying why, where vfio-pci cannot bind. */
export const NEEDS_VFIO_GROUPS = VFIO_PCI_BINDS ? {} : { skip: `Linux ${KERNEL_LINE} cannot bind vfio-pci on powerpc (probe EINVAL: no IOMMU_CAP_CACHE_COHERENCY before 6.2), so there are no VFIO groups` };

export { EXPECTED, PLATFORM } from './platform.mjs';

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
