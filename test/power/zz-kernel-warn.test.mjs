// Runs last (the runner imports files in order). 6.12 hits WARN_ON_ONCE(!kvf->iommu_group) in
// virt/kvm/vfio.c (kvm_spapr_tce_release_vfio_group) when a group that was added to the KVM-VFIO
// device but never linked is removed or released. It fires once per boot, so first check that no
// earlier test did it, then show the kernel behaviour and what the library does about it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AttachStep, Kvm, KvmVfioDevice, VfioGroup, attachIommuGroup, traceSyscalls } from '../../dist/index.js';
import { NEEDS_VFIO_GROUPS, GROUP_TESTDEV, TAINT_AT_START, TAINT_WARN, kernelTaint, openFdCount, scoped } from './helpers.mjs';

function nextWarning(code) {
  return new Promise((resolve) => {
    const listener = (warning) => {
      if (warning.code !== code) return;
      process.off('warning', listener);
      resolve(warning);
    };
    process.on('warning', listener);
  });
}

describe('kernel WARNs (virt/kvm/vfio.c kvm_spapr_tce_release_vfio_group)', NEEDS_VFIO_GROUPS, () => {
  it('no earlier test made the kernel WARN: attach, detach, rollback and the errno tests are WARN-free', () => {
    assert.equal(TAINT_AT_START & TAINT_WARN, 0, 'the kernel was already tainted by a WARN at boot');
    assert.equal(kernelTaint() & TAINT_WARN, 0, 'a test before this one made the kernel WARN');
  });

  it('removing a group that was added but never linked: the library warns, then the kernel WARNs (taint bit 9)', () => scoped(async (use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const device = use(vm.createVfioDevice());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    device.addGroup(group);
    assert.deepEqual(device.unlinkedGroups, [group]);
    const warning = nextWarning('KVM_VFIO_SPAPR_KERNEL_WARN');
    device.removeGroup(group);
    assert.match((await warning).message, /kvm_spapr_tce_release_vfio_group/);
    assert.equal(kernelTaint() & TAINT_WARN, TAINT_WARN);
  }));

  it('with panic_on_warn=1 the library refuses that removal before any syscall', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const device = use(vm.createVfioDevice());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    device.addGroup(group);
    writeFileSync('/proc/sys/kernel/panic_on_warn', '1');
    try {
      const { error, syscalls } = traceSyscalls(() => device.removeGroup(group));
      assert.equal(error?.code, 'ERR_KVM_KERNEL_WARN', String(error));
      assert.deepEqual(syscalls, []);
    } finally {
      writeFileSync('/proc/sys/kernel/panic_on_warn', '0');
    }
  }));

  it("a failure at attach's 'link' step rolls back too (its group removal is the case above)", () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const fds = openFdCount();
    const original = KvmVfioDevice.prototype.setSpaprTce;
    KvmVfioDevice.prototype.setSpaprTce = () => {
      throw new Error('injected failure in setSpaprTce');
    };
    try {
      assert.throws(() => attachIommuGroup(vm, { group: GROUP_TESTDEV, liobn: 0x80000000n, windowSize: 1n << 30n }), /injected/);
    } finally {
      KvmVfioDevice.prototype.setSpaprTce = original;
    }
    assert.equal(openFdCount(), fds);
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    assert.equal(group.status.containerSet, false);
    assert.ok(AttachStep.LINK);
  }));
});
