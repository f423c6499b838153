// Lifetimes against the real 6.12 kernel: closing parents while children live, closing a linked
// table, removing a linked group, closing a linkage twice, and what becomes of the fd numbers
// that were closed. The rule: an object owns its fd; children keep working because the kernel
// holds references (a device and a table hold their VM; the KVM-VFIO device holds its groups);
// a closed object refuses every call without a syscall, so a recycled fd number is never used.
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup, attachIommuGroup, pageSize, resourceStats, traceSyscalls } from '../../dist/index.js';
import { NEEDS_VFIO_GROUPS, GROUP_TESTDEV, expectClosedWithoutSyscall, fdsOpenedBy, openFdCount, scoped } from './helpers.mjs';

const LIOBN = 0x80000000n;
const GIB = 1n << 30n;

/** Opens /dev/null until `fd` is taken again; returns the fds to close. */
function recycle(fd) {
  const opened = [];
  while (opened.length < 512 && !opened.includes(fd)) opened.push(openSync('/dev/null', 'r'));
  assert.ok(opened.includes(fd), `fd ${fd} was reused`);
  return opened;
}

function attach(use, vm, extra = {}) {
  const memory = use(GuestMemory.allocate(BigInt(pageSize()) * 16n));
  return attachIommuGroup(vm, { group: GROUP_TESTDEV, liobn: LIOBN, windowSize: GIB, memory, ...extra });
}

describe('lifetimes on the emulated POWER host', NEEDS_VFIO_GROUPS, () => {
  it('closing the VM while its KVM-VFIO device, tables and linkage live: they keep working; the VM refuses calls; its fd number is never used again', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const { result: vm, fds: [vmFd] } = fdsOpenedBy(() => kvm.createVm());
    const linkage = attach(use, vm);
    const extra = vm.createSpaprTceTable({ liobn: LIOBN + 1n, size: 512n });
    vm.close();
    const recycled = recycle(vmFd);
    try {
      expectClosedWithoutSyscall(() => vm.createSpaprTceTable({ liobn: LIOBN + 2n, size: 512n }));
      expectClosedWithoutSyscall(() => vm.checkExtension(142));
      assert.equal(linkage.device.supportsSpaprTce(), true); // the device holds the VM
      assert.equal(linkage.table.read(0), 0n);
      assert.equal(extra.read(511), 0n);
      assert.deepEqual(linkage.device.linkedTables(linkage.group), [linkage.table]);
      extra.close();
      linkage.close(); // unlinks and undoes every step through the children's own fds
      assert.equal(linkage.table.closed, true);
    } finally {
      for (const fd of recycled) closeSync(fd);
    }
  }));

  it('closing a table that is still linked: the kernel drops the link and frees the LIOBN; the linkage still closes cleanly', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const fds = openFdCount();
    const linkage = attach(use, vm);
    linkage.table.close();
    assert.deepEqual(linkage.device.linkedTables(linkage.group), []);
    expectClosedWithoutSyscall(() => linkage.table.read(0));
    use(vm.createSpaprTceTable({ liobn: LIOBN, size: 512n })).close(); // the LIOBN is free again
    linkage.close();
    assert.equal(openFdCount(), fds); // guest memory is a mapping, not an fd: nothing is left
    const again = use(attach(use, vm)); // and the group attaches again
    assert.equal(again.table.read(0), 0n);
  }));

  it('removing a group that is linked: no kernel WARN (it was linked); the linkage then closes cleanly', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const fds = openFdCount();
    const owned = resourceStats().ownedFds;
    const linkage = attach(use, vm);
    linkage.device.removeGroup(linkage.group);
    assert.deepEqual(linkage.device.groups, []);
    assert.deepEqual(linkage.device.linkedTables(linkage.group), []);
    linkage.close();
    assert.equal(linkage.group.closed, true);
    assert.equal(resourceStats().ownedFds, owned);
    assert.equal(openFdCount(), fds);
    use(attach(use, vm));
  }));

  it('unsetting the container or removing the DMA window under a linkage: the linkage still closes cleanly', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    const first = attach(use, vm, { group });
    first.container.removeWindow(first.window.startAddr);
    first.close();
    const second = attach(use, vm, { group });
    const { container } = second;
    group.unsetContainer(); // the last group: the kernel releases the container's IOMMU, windows and registrations
    assert.equal(container.iommuType, undefined);
    assert.deepEqual(container.windows, []);
    assert.deepEqual(container.registeredMemory, []);
    second.close();
    assert.equal(group.status.containerSet, false);
  }));

  it('a container whose last group left can take a group and an IOMMU type again', () => scoped((use) => {
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    const container = use(VfioContainer.open());
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2);
    container.removeWindow(0n);
    container.createWindow({ pageShift: 12, windowSize: GIB });
    group.unsetContainer();
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2); // was refused with ERR_VFIO_IOMMU_SET: the library kept the old state
    container.removeWindow(0n);
    assert.equal(container.createWindow({ pageShift: 12, windowSize: GIB }).startAddr, 0n);
  }));

  it('closing a linkage twice, or close() then dispose: the second does nothing (no syscall)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const linkage = attach(use, vm);
    linkage.close();
    assert.equal(linkage.closed, true);
    assert.deepEqual(traceSyscalls(() => linkage.close()), { result: undefined, syscalls: [] });
    assert.deepEqual(traceSyscalls(() => linkage[Symbol.dispose]()), { result: undefined, syscalls: [] });
  }));

  it('closing the group a linkage uses: the KVM-VFIO device keeps it until the linkage closes, without touching the recycled fd number', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const { result: group, fds: [groupFd] } = fdsOpenedBy(() => VfioGroup.open(GROUP_TESTDEV));
    const linkage = attach(use, vm, { group });
    group.close();
    const recycled = recycle(groupFd);
    try {
      expectClosedWithoutSyscall(() => group.status);
      assert.equal(linkage.table.read(0), 0n);
      assert.throws(() => VfioGroup.open(GROUP_TESTDEV), { code: 'EBUSY' }); // the device still holds the group ...
      linkage.close(); // (ERR_KVM_FD_NOT_OWNED if it reached the native layer with the old number)
      assert.equal(linkage.device.closed, true); // ... until the linkage releases the device it made (linked: no WARN)
      use(VfioGroup.open(GROUP_TESTDEV)).close();
    } finally {
      for (const fd of recycled) closeSync(fd);
    }
  }));

  it('closing the KVM system object while VMs live: the VMs keep working', () => scoped((use) => {
    const kvm = Kvm.open();
    const vm = use(kvm.createVm());
    kvm.close();
    expectClosedWithoutSyscall(() => kvm.createVm());
    assert.equal(vm.checkExtension(142), 1);
    const linkage = use(attach(use, vm));
    assert.equal(linkage.table.read(0), 0n);
    const vcpu = use(vm.createVcpu(0)); // its kvm_run size was learned when kvm was opened
    assert.equal(typeof vcpu.stats().sum_exits, 'bigint');
  }));
});
