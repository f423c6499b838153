// The KVM system, VM and device objects against a real /dev/kvm. This machine has none (no
// nested virtualisation): these tests then skip with that reason, and the emulated POWER host
// suite (test/power/) runs the same behaviour against a ppc64le kernel.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Cap, DeviceType, Kvm, KvmVfioAttr, KvmVfioError } from '../dist/index.js';
import { tracingSyscalls } from './helpers.js';

const hasKvm = existsSync('/dev/kvm');
const reason = 'skipped: /dev/kvm does not exist on this machine (the POWER suite in test/power/ covers this against a real kernel)';
if (!hasKvm) console.warn(reason);

describe.skipIf(!hasKvm)(`with /dev/kvm${hasKvm ? '' : ` — ${reason}`}`, () => {
  it('opens, reports API 12 and answers capabilities', () => {
    using kvm = Kvm.open();
    expect(kvm.apiVersion).toBe(12);
    expect(kvm.checkExtension(Cap.USER_MEMORY)).toBeGreaterThan(0);
    expect(kvm.checkExtension(0xffff_fff0)).toBe(0);
  });

  it('creates a VM and a KVM-VFIO device, probes and refuses attributes like the kernel', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    expect(vm.supportsDevice(DeviceType.VFIO)).toBe(true);
    expect(vm.supportsDevice(0x7fff)).toBe(false);
    using device = vm.createDevice(DeviceType.VFIO);
    expect(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)).toBe(true);
    expect(device.hasAttr(99, 1)).toBe(false);
    const getError = (() => {
      try {
        device.getAttr(1, 1);
      } catch (error) {
        return error as KvmVfioError;
      }
      return undefined;
    })();
    expect(getError?.code).toBe('EPERM');
    expect(getError?.hint).toContain('no get_attr');
    const second = (() => {
      try {
        vm.createDevice(DeviceType.VFIO);
      } catch (error) {
        return error as KvmVfioError;
      }
      return undefined;
    })();
    expect(second?.code).toBe('EBUSY');
  });

  it('closed objects refuse calls without a syscall', async () => {
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    vm.close();
    kvm.close();
    for (const call of [() => kvm.checkExtension(1), () => kvm.createVm(), () => vm.checkExtension(1), () => vm.createDevice(4)]) {
      const { error, syscalls } = await tracingSyscalls(call);
      expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
      expect(syscalls).toBe(0);
    }
  });
});
