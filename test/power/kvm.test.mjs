// KVM system, VM and device objects against the real ppc64le 6.12 kernel, and the generic part of
// the errno contract (kernel-abi.md §4.1, §4.2, §4.5).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cap, DeviceType, Kvm, KvmVfioAttr, VmType, requestNumbers } from '../../dist/index.js';
import { KERNEL_LINE, SPAPR_TCE_VFIO, expectClosedWithoutSyscall, expectKvmError, scoped } from './helpers.mjs';

const PPC64_REQUESTS = {
  KVM_GET_API_VERSION: 0x2000ae00,
  KVM_CHECK_EXTENSION: 0x2000ae03,
  KVM_CREATE_SPAPR_TCE_64: 0x8020aea8,
  KVM_CREATE_DEVICE: 0xc00caee0,
  KVM_SET_DEVICE_ATTR: 0x8018aee1,
  VFIO_GROUP_SET_CONTAINER: 0x20003b68,
  VFIO_IOMMU_SPAPR_TCE_CREATE: 0x20003b77,
};

describe('KVM on the emulated POWER host', () => {
  it('runs the cross-built ppc64 addon with the powerpc request numbers', () => scoped((use) => {
    assert.equal(process.arch, 'ppc64');
    for (const [name, value] of Object.entries(PPC64_REQUESTS)) assert.equal(requestNumbers[name], value, name);
  }));

  it(`opens /dev/kvm with API 12 and the capabilities ${KERNEL_LINE} reports: SPAPR_TCE_VFIO ${SPAPR_TCE_VFIO} (arch/powerpc/kvm/powerpc.c kvm_vm_ioctl_check_extension)`, () => scoped((use) => {
    const kvm = use(Kvm.open());
    assert.equal(kvm.apiVersion, 12);
    const vm = use(kvm.createVm());
    for (const [cap, expected] of [
      [Cap.SPAPR_TCE, 1], [Cap.SPAPR_TCE_64, 1], [Cap.SPAPR_TCE_VFIO, SPAPR_TCE_VFIO], [Cap.SPAPR_MULTITCE, 1],
      [Cap.DEVICE_CTRL, 1], [Cap.PPC_NESTED_HV, 1], [Cap.PPC_MMU_RADIX, 1], [Cap.PPC_MMU_HASH_V3, 0],
    ]) {
      assert.equal(kvm.checkExtension(cap), expected, `system cap ${cap}`);
      assert.equal(vm.checkExtension(cap), expected, `vm cap ${cap}`);
    }
  }));

  it('creates VMs of type 0 and HV; PR and unknown types give EINVAL with the hint (arch/powerpc/kvm/powerpc.c kvm_arch_init_vm)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    kvm.createVm({ type: VmType.DEFAULT }).close();
    kvm.createVm({ type: VmType.PPC_HV }).close();
    for (const type of [VmType.PPC_PR, 99]) {
      expectKvmError(() => kvm.createVm({ type }), { code: 'EINVAL', request: 'KVM_CREATE_VM', hint: 'kvm-pr' });
    }
  }));

  it('probes device types with KVM_CREATE_DEVICE_TEST without creating anything (virt/kvm/kvm_main.c kvm_ioctl_create_device)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    assert.equal(vm.supportsDevice(DeviceType.VFIO), true);
    assert.equal(vm.supportsDevice(0x7fff), false);
    const device = use(vm.createDevice(DeviceType.VFIO));
    assert.equal(device.type, DeviceType.VFIO);
    expectKvmError(() => vm.createDevice(0x7fff), { code: 'ENODEV', request: 'KVM_CREATE_DEVICE', hint: 'no such device type' });
  }));

  it('allows one KVM-VFIO device per VM: a second create is EBUSY with the kvm-vfio hint (virt/kvm/vfio.c kvm_vfio_create)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const device = use(vm.createDevice(DeviceType.VFIO));
    assert.ok(device);
    expectKvmError(() => vm.createDevice(DeviceType.VFIO), { code: 'EBUSY', request: 'KVM_CREATE_DEVICE', hint: 'one per VM' });
  }));

  it('answers HAS/SET/GET_DEVICE_ATTR on kvm-vfio like virt/kvm/vfio.c (kvm_vfio_has_attr, kvm_vfio_set_attr, no get_attr)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const device = use(vm.createDevice(DeviceType.VFIO));
    assert.equal(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD), true);
    assert.equal(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_DEL), true);
    assert.equal(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_SET_SPAPR_TCE), true);
    assert.equal(device.hasAttr(1, 99), false);
    assert.equal(device.hasAttr(99, 1), false);
    expectKvmError(() => device.setAttr(1, 99, 0n), { code: 'ENXIO', request: 'KVM_SET_DEVICE_ATTR', hint: 'lacks that attribute' });
    expectKvmError(() => device.setAttr(99, 1, 0n), { code: 'ENXIO', request: 'KVM_SET_DEVICE_ATTR' });
    expectKvmError(() => device.getAttr(1, 1), { code: 'EPERM', request: 'KVM_GET_DEVICE_ATTR', hint: 'no get_attr' });
  }));

  it('refuses every call on closed objects without a syscall', () => scoped((use) => {
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    const device = vm.createDevice(DeviceType.VFIO);
    device.close();
    vm.close();
    kvm.close();
    expectClosedWithoutSyscall(() => kvm.checkExtension(Cap.SPAPR_TCE));
    expectClosedWithoutSyscall(() => kvm.createVm());
    expectClosedWithoutSyscall(() => vm.checkExtension(Cap.SPAPR_TCE));
    expectClosedWithoutSyscall(() => vm.createDevice(DeviceType.VFIO));
    expectClosedWithoutSyscall(() => vm.createVfioDevice());
    expectClosedWithoutSyscall(() => vm.createSpaprTceTable({ liobn: 1n, size: 1n }));
    expectClosedWithoutSyscall(() => device.hasAttr(1, 1));
    expectClosedWithoutSyscall(() => device.setAttr(1, 1, 0n));
    expectClosedWithoutSyscall(() => device.getAttr(1, 1));
  }));

  it('keeps children usable after their parent VM is closed (the device holds a VM reference: virt/kvm/kvm_main.c kvm_ioctl_create_device)', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = kvm.createVm();
    const device = use(vm.createDevice(DeviceType.VFIO));
    vm.close();
    assert.equal(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD), true);
    assert.equal(device.vm, vm);
  }));
});
