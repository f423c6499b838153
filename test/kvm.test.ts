// The KVM system, VM and device objects against this machine's own kernel, where it has a usable
// /dev/kvm. That kernel is x86_64: it has no sPAPR code, so these tests check the
// architecture-neutral half of kernel-abi.md §4.1/§4.2 (virt/kvm/kvm_main.c, virt/kvm/vfio.c) and
// what an x86 kernel answers to the POWER-only calls. Without a usable /dev/kvm they skip and say
// why; the POWER suite (test/power/) runs the POWER half against a ppc64le kernel either way.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Cap, DeviceType, GuestMemory, Kvm, KvmVfioAttr, KvmVfioError, attachIommuGroup, probeLinkage, resourceStats } from '../dist/index.js';
import { O_CLOEXEC, caught, fdFlags, newFds, openFds, tracingSyscalls, x86KvmUnavailable } from './helpers.js';

const unavailable = await x86KvmUnavailable();
if (unavailable) console.warn(unavailable);

const POWER_ONLY_CAPS = [Cap.SPAPR_TCE, Cap.SPAPR_TCE_64, Cap.SPAPR_TCE_VFIO, Cap.SPAPR_MULTITCE, Cap.PPC_ENABLE_HCALL, Cap.PPC_NESTED_HV];
const useVmFdChild = fileURLToPath(new URL('./power/children/use-vm-fd.mjs', import.meta.url));
const indexUrl = new URL('../dist/index.js', import.meta.url).href;

describe.skipIf(unavailable !== undefined)(`x86 KVM on this machine${unavailable ? ` — ${unavailable}` : ''}`, () => {
  it('opens /dev/kvm with API 12; the x86 kernel reports every sPAPR and PPC capability 0 (arch/x86/kvm/x86.c kvm_vm_ioctl_check_extension)', () => {
    using kvm = Kvm.open();
    expect(kvm.apiVersion).toBe(12);
    using vm = kvm.createVm();
    for (const cap of POWER_ONLY_CAPS) {
      expect(kvm.checkExtension(cap), `system cap ${cap}`).toBe(0);
      expect(vm.checkExtension(cap), `vm cap ${cap}`).toBe(0);
    }
    for (const cap of [Cap.DEVICE_CTRL, Cap.CHECK_EXTENSION_VM, Cap.USER_MEMORY]) {
      expect(kvm.checkExtension(cap)).toBeGreaterThan(0);
      expect(vm.checkExtension(cap)).toBeGreaterThan(0);
    }
    expect(kvm.checkExtension(0xffff_fff0)).toBe(0);
  });

  it('refuses an unknown VM type with EINVAL and the hint (arch/x86/kvm/x86.c kvm_arch_init_vm)', () => {
    using kvm = Kvm.open();
    const before = openFds();
    const error = caught(() => kvm.createVm({ type: 99 }));
    expect(error).toMatchObject({ code: 'EINVAL', errno: -22, syscall: 'ioctl', request: 'KVM_CREATE_VM', target: 'kvm system' });
    expect(error.hint).toContain('refused this VM type');
    expect(newFds(before)).toEqual([]);
  });

  it('probes device types with KVM_CREATE_DEVICE_TEST in one syscall and no fd (virt/kvm/kvm_main.c kvm_ioctl_create_device)', async () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const before = openFds();
    const probe = await tracingSyscalls(() => vm.supportsDevice(DeviceType.VFIO));
    expect(probe).toMatchObject({ result: true, syscalls: 1 });
    expect(vm.supportsDevice(0x7fff)).toBe(false);
    expect(vm.supportsDevice(DeviceType.XICS)).toBe(false); // POWER's interrupt controller
    expect(newFds(before)).toEqual([]);
    const error = caught(() => vm.createDevice(0x7fff));
    expect(error).toMatchObject({ code: 'ENODEV', request: 'KVM_CREATE_DEVICE', target: 'vm' });
    expect(error.hint).toContain('no such device type');
  });

  it('one KVM-VFIO device per VM: createVfioDevice() returns the same object, a raw second create is EBUSY with the hint (virt/kvm/vfio.c kvm_vfio_create)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    using other = kvm.createVm();
    const device = vm.createVfioDevice();
    expect(vm.createVfioDevice()).toBe(device);
    expect(vm.vfioDevice).toBe(device);
    expect(other.createVfioDevice()).not.toBe(device);
    const error = caught(() => vm.createDevice(DeviceType.VFIO));
    expect(error).toMatchObject({ code: 'EBUSY', request: 'KVM_CREATE_DEVICE' });
    expect(error.hint).toContain('one per VM');
  });

  it('answers HAS/SET/GET_DEVICE_ATTR like virt/kvm/vfio.c built without CONFIG_SPAPR_TCE_IOMMU (kvm_vfio_has_attr, kvm_vfio_set_attr, no get_attr)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const device = vm.createVfioDevice();
    expect(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)).toBe(true);
    expect(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_DEL)).toBe(true);
    expect(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_SET_SPAPR_TCE)).toBe(false);
    expect(device.supportsSpaprTce()).toBe(false);
    expect(device.hasAttr(1, 99)).toBe(false);
    expect(device.hasAttr(99, 1)).toBe(false);
    for (const [group, attr] of [[1, 99], [99, 1]] as const) {
      const error = caught(() => device.setAttr(group, attr, 0n));
      expect(error).toMatchObject({ code: 'ENXIO', request: 'KVM_SET_DEVICE_ATTR', target: 'kvm-vfio device' });
      expect(error.hint).toContain('lacks that attribute');
    }
    const get = caught(() => device.getAttr(1, 1));
    expect(get).toMatchObject({ code: 'EPERM', request: 'KVM_GET_DEVICE_ATTR' });
    expect(get.hint).toContain('no get_attr');
  });

  it('FILE_ADD, FILE_DEL and SET_SPAPR_TCE with fds that are not VFIO groups (virt/kvm/vfio.c kvm_vfio_file_add, kvm_vfio_file_del, kvm_vfio_set_file)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const device = vm.createVfioDevice();
    const devNull = openSync('/dev/null', 'r');
    try {
      const notVfio = caught(() => device.addGroup(devNull));
      expect(notVfio).toMatchObject({ code: 'EINVAL', request: 'KVM_SET_DEVICE_ATTR' });
      expect(notVfio.hint).toContain('not a VFIO group');
      expect(notVfio.message).toContain(`attr 1: fd ${devNull}`);
      for (const fd of [9999, -1]) expect(caught(() => device.addGroup(fd)).code).toBe('EBADF');
      expect(device.groups).toEqual([]);
      const neverAdded = caught(() => device.removeGroup(devNull));
      expect(neverAdded.code).toBe('ENOENT');
      expect(neverAdded.hint).toContain('never added');
      const link = caught(() => device.setSpaprTce(devNull, devNull));
      expect(link).toMatchObject({ code: 'ENXIO', request: 'KVM_SET_DEVICE_ATTR' });
      expect(link.hint).toContain('CONFIG_SPAPR_TCE_IOMMU');
    } finally {
      closeSync(devNull);
    }
  });

  it('an x86 VM has no in-kernel TCE tables: KVM_CREATE_SPAPR_TCE_64 is ENOTTY with the hint and leaves no fd (arch/x86/kvm/x86.c kvm_arch_vm_ioctl)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const before = openFds();
    const error = caught(() => vm.createSpaprTceTable({ liobn: 0x80000000n, size: 512n }));
    expect(error).toMatchObject({ code: 'ENOTTY', request: 'KVM_CREATE_SPAPR_TCE_64', target: 'vm' });
    expect(error.hint).toContain('no in-kernel TCE tables');
    expect(newFds(before)).toEqual([]);
  });

  it('KVM_ENABLE_CAP of a POWER capability is EINVAL on x86 (arch/x86/kvm/x86.c kvm_vm_ioctl_enable_cap)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const error = caught(() => vm.enableCap(Cap.PPC_ENABLE_HCALL, [0x138n, 1n]));
    expect(error).toMatchObject({ code: 'EINVAL', request: 'KVM_ENABLE_CAP' });
  });

  it('attachIommuGroup stops at its capability step before opening anything, and probeLinkage says what is missing', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const before = openFds();
    const error = caught(() => attachIommuGroup(vm, { group: 1, liobn: 0x80000000n, windowSize: 1n << 30n }));
    expect(error).toMatchObject({ code: 'ERR_KVM_NO_SPAPR_TCE_VFIO', step: 'capabilities' });
    expect(error.message).toContain('handle TCE hypercalls in user space');
    expect(newFds(before)).toEqual([]);
    const dryRun = probeLinkage(vm, { group: 1, liobn: 0x80000000n, windowSize: 1n << 30n });
    expect(dryRun.possible).toBe(false);
    expect(dryRun.missing.join('\n')).toContain('KVM_CAP_SPAPR_TCE_VFIO is 0');
    expect(dryRun.missing.join('\n')).toContain('no SET_SPAPR_TCE attribute');
    expect(newFds(before)).toEqual([]);
  });

  it('attachIommuGroup and probeLinkage check every option, each guest memory included, before any syscall (v1 too, which registers none)', async () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm(); // a fresh VM: no capability is cached, so any check would be a syscall
    const closed = GuestMemory.allocate(4096n);
    closed.close();
    using open = GuestMemory.allocate(4096n);
    const base = { group: 1, liobn: 0x80000000n, windowSize: 1n << 30n };
    for (const [memory, code] of [[0, 'ERR_INVALID_ARG_TYPE'], [[open, 'x'], 'ERR_INVALID_ARG_TYPE'], [{}, 'ERR_INVALID_ARG_TYPE'], [closed, 'ERR_KVM_CLOSED'], [[open, closed], 'ERR_KVM_CLOSED']] as const) {
      for (const iommu of ['v2', 'v1'] as const) {
        for (const call of [() => attachIommuGroup(vm, { ...base, iommu, memory: memory as never }), () => probeLinkage(vm, { ...base, iommu, memory: memory as never })]) {
          const { error, syscalls } = await tracingSyscalls(call);
          expect((error as { code: string }).code, `${iommu} ${String(memory)}`).toBe(code);
          expect(syscalls).toBe(0);
        }
      }
    }
  });

  it('attachIommuGroup and probeLinkage refuse a bad group number and a closed VM before any syscall', async () => {
    using kvm = Kvm.open();
    const vm = kvm.createVm();
    const base = { liobn: 0x80000000n, windowSize: 1n << 30n };
    for (const [group, type] of [[-1, RangeError], [2 ** 53, RangeError], [1.5, RangeError], ['', TypeError]] as const) {
      for (const call of [() => attachIommuGroup(vm, { ...base, group }), () => probeLinkage(vm, { ...base, group })]) {
        const { error, syscalls } = await tracingSyscalls(call);
        expect(error, String(group)).toBeInstanceOf(type);
        expect(syscalls).toBe(0);
      }
    }
    vm.close();
    for (const call of [() => attachIommuGroup(vm, { ...base, group: 1 }), () => probeLinkage(vm, { ...base, group: 1 })]) {
      const { error, syscalls } = await tracingSyscalls(call);
      expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
      expect(syscalls).toBe(0);
    }
  });

  it('opens every fd O_CLOEXEC: /dev/kvm, the VM, a KVM device and a vCPU (kernel anon inodes)', () => {
    const before = openFds();
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    using device = vm.createDevice(DeviceType.VFIO);
    using vcpu = vm.createVcpu(0);
    const fds = newFds(before);
    expect(fds.map((fd) => readlinkSync(`/proc/self/fd/${fd}`)).sort()).toEqual(['/dev/kvm', 'anon_inode:kvm-vcpu:0', 'anon_inode:kvm-vfio', 'anon_inode:kvm-vm']);
    for (const fd of fds) expect(fdFlags(fd) & O_CLOEXEC, `fd ${fd}`).toBe(O_CLOEXEC);
    expect([kvm, vm, device, vcpu].every((object) => !object.closed)).toBe(true);
  });

  it('a closed VM refuses calls without a syscall even when a new VM got its fd number', async () => {
    using kvm = Kvm.open();
    const before = openFds();
    const vm = kvm.createVm();
    const [vmFd] = newFds(before);
    vm.close();
    vm.close();
    vm[Symbol.dispose]();
    using recycled = kvm.createVm();
    expect(readlinkSync(`/proc/self/fd/${vmFd}`)).toBe('anon_inode:kvm-vm'); // the number is in use again
    for (const call of [() => vm.checkExtension(Cap.DEVICE_CTRL), () => vm.createDevice(DeviceType.VFIO), () => vm.createVfioDevice(), () => vm.createVcpu(0)]) {
      const { error, syscalls } = await tracingSyscalls(call);
      expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
      expect(syscalls).toBe(0);
    }
    expect(recycled.createVfioDevice().hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)).toBe(true); // untouched
  });

  it('children keep their parents: a device and a vCPU work after the VM and /dev/kvm are closed (virt/kvm/kvm_main.c: their fds hold a VM reference)', () => {
    const kvm = Kvm.open();
    const vm = kvm.createVm();
    using device = vm.createDevice(DeviceType.VFIO);
    using vcpu = vm.createVcpu(0);
    vm.close();
    kvm.close();
    expect(device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)).toBe(true);
    expect(typeof vcpu.stats().exits).toBe('bigint');
    expect(device.vm).toBe(vm);
  });

  it('a VM whose Kvm object was closed still creates vCPUs: the kvm_run size was learned at open (fuzzing found ERR_KVM_CLOSED here)', async () => {
    const kvm = Kvm.open();
    const size = kvm.vcpuMmapSize();
    using vm = kvm.createVm();
    kvm.close();
    using vcpu = vm.createVcpu(0);
    expect(typeof vcpu.stats().exits).toBe('bigint');
    const { error, syscalls } = await tracingSyscalls(() => kvm.vcpuMmapSize());
    expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED'); // the parent itself still refuses
    expect(syscalls).toBe(0);
    expect(size).toBeGreaterThanOrEqual(4096);
  });

  it('closeAsync() closes at once and releases the fd on the thread pool; the VM may then create its KVM-VFIO device again (virt/kvm/kvm_main.c kvm_device_release)', async () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    const before = openFds();
    const owned = resourceStats().ownedFds;
    const device = vm.createVfioDevice();
    const [deviceFd] = newFds(before);
    const closing = device.closeAsync();
    expect(device.closed).toBe(true);
    expect(vm.vfioDevice).toBeUndefined();
    expect(resourceStats().ownedFds).toBe(owned);
    const { error, syscalls } = await tracingSyscalls(() => device.hasAttr(1, 1));
    expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
    expect(syscalls).toBe(0);
    await closing;
    await device.closeAsync(); // idempotent
    expect(() => readlinkSync(`/proc/self/fd/${deviceFd}`)).toThrow(); // released by the kernel
    const again = vm.createVfioDevice(); // the released device left the VM's list
    expect(again).not.toBe(device);
    {
      await using scoped = again;
      expect(scoped.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)).toBe(true);
    }
    expect(again.closed).toBe(true);
    expect(newFds(before)).toEqual([]); // `await using` waited for the thread pool's close
  });

  it('a VM fd used from another process fails with EIO and the hint (virt/kvm/kvm_main.c kvm_vm_ioctl: kvm->mm != current->mm)', () => {
    using kvm = Kvm.open();
    const before = openFds();
    using vm = kvm.createVm();
    const [vmFd] = newFds(before);
    const child = spawnSync(process.execPath, [useVmFdChild], { stdio: ['ignore', 'pipe', 'pipe', vmFd!], encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const results = JSON.parse(child.stdout);
    expect(results.notAVm.code).toBe('ERR_INVALID_ARG_VALUE');
    for (const call of ['checkExtension', 'createSpaprTceTable', 'createVfioDevice']) {
      expect(results[call], call).toMatchObject({ kvmVfioError: true, code: 'EIO', errno: -5 });
      expect(results[call].hint).toMatch(/process other than the one that created the VM/);
    }
    expect(vm.checkExtension(Cap.DEVICE_CTRL)).toBe(1); // the creator is unaffected
  });

  it('two worker_threads drive separate VMs at once', async () => {
    const source = `
      import { parentPort } from 'node:worker_threads';
      const { Kvm, KvmVfioAttr, resourceStats } = await import(${JSON.stringify(indexUrl)});
      let probes = 0;
      for (let round = 0; round < 50; round += 1) {
        const kvm = Kvm.open();
        const vm = kvm.createVm();
        const device = vm.createVfioDevice();
        if (device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD)) probes += 1;
        device.close();
        vm.createVcpu(0).close();
        vm.close();
        kvm.close();
      }
      parentPort.postMessage({ probes, ownedFds: resourceStats().ownedFds });
    `;
    const run = () => new Promise((resolve, reject) => {
      const worker = new Worker(source, { eval: true, type: 'module' } as never);
      worker.on('message', resolve);
      worker.on('error', reject);
    });
    expect(await Promise.all([run(), run()])).toEqual([{ probes: 50, ownedFds: 0 }, { probes: 50, ownedFds: 0 }]);
  });
});
