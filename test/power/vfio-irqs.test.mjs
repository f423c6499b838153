// A passed-through function's interrupts and BARs as the kernel really handles them: VFIO_DEVICE_GET_IRQ_INFO /
// SET_IRQS on edu (INTx pin 1 and an MSI capability; drivers/vfio/pci/vfio_pci_intrs.c) and a KVM memslot over
// its BAR0 mmap (virt/kvm/kvm_main.c __kvm_set_memory_region takes VM_PFNMAP memory).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventFd, IommuType, IrqFlag, Kvm, PciIrq, PciRegion, VfioContainer, VfioGroup, traceSyscalls } from '../../dist/index.js';
import { SpaprMachine } from '../../dist/examples/spapr-vmm/machine.js';
import { parseKernelImage } from '../../dist/examples/spapr-vmm/kernel-image.js';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NEEDS_VFIO_GROUPS, DEVICE_EDU, GROUP_EDU, expectClosedWithoutSyscall, expectKvmError, scoped } from './helpers.mjs';
import { kernelImage } from '../../scripts/power-host/kernel-tree.mjs';

function eduDevice(use) {
  const container = use(VfioContainer.open());
  const group = use(VfioGroup.open(GROUP_EDU));
  group.setContainer(container);
  container.setIommu(IommuType.SPAPR_TCE_V2);
  return use(group.getDeviceFd(DEVICE_EDU));
}

describe('VFIO interrupts and BAR memslots on the emulated POWER host', NEEDS_VFIO_GROUPS, () => {
  it('edu has one maskable, automasked INTx and one MSI; INTx binds, unmasks and disables; MSI while INTx is on is EINVAL with the one-type hint', () => scoped((use) => {
    const device = eduDevice(use);
    const intx = device.irqInfo(PciIrq.INTX);
    assert.equal(intx.count, 1);
    assert.equal(intx.flags & (IrqFlag.EVENTFD | IrqFlag.MASKABLE | IrqFlag.AUTOMASKED), IrqFlag.EVENTFD | IrqFlag.MASKABLE | IrqFlag.AUTOMASKED);
    assert.equal(device.irqInfo(PciIrq.MSI).count, 1);
    const line = use(EventFd.create());
    device.setIrqEventFds(PciIrq.INTX, [line]);
    device.maskIrq(PciIrq.INTX);
    device.unmaskIrq(PciIrq.INTX);
    const unmask = use(EventFd.create());
    device.setIrqUnmaskEventFd(PciIrq.INTX, unmask);
    expectKvmError(() => device.setIrqEventFds(PciIrq.MSI, [use(EventFd.create())]), { code: 'EINVAL', request: 'VFIO_DEVICE_SET_IRQS', hint: 'one type at a time' });
    device.disableIrqs(PciIrq.INTX);
    device.setIrqEventFds(PciIrq.MSI, [line]); // now free
    device.disableIrqs(PciIrq.MSI);
    expectKvmError(() => device.irqInfo(99), { code: 'EINVAL', request: 'VFIO_DEVICE_GET_IRQ_INFO', hint: 'numIrqs' });
    expectKvmError(() => device.setIrqEventFds(PciIrq.INTX, [line, line]), { code: 'EINVAL', request: 'VFIO_DEVICE_SET_IRQS', hint: 'INTx has one' });
  }));

  it('checks interrupt arguments before any syscall, and a closed device refuses them without one', () => scoped((use) => {
    const device = eduDevice(use);
    const closedFd = EventFd.create();
    closedFd.close();
    const refused = [
      [() => device.setIrqEventFds(PciIrq.INTX, []), TypeError],
      [() => device.setIrqEventFds(PciIrq.INTX, [3]), TypeError],
      [() => device.setIrqEventFds(PciIrq.INTX, [closedFd]), Error],
      [() => device.setIrqEventFds(-1, [null]), RangeError],
      [() => device.unmaskIrq(PciIrq.INTX, 1.5), RangeError],
      [() => device.setIrqUnmaskEventFd(PciIrq.INTX, {}), TypeError],
    ];
    for (const [call, type] of refused) {
      const { error, syscalls } = traceSyscalls(call);
      assert.ok(error instanceof type, `${call}: ${error}`);
      assert.deepEqual(syscalls, [], `${call} issued no syscall`);
    }
    device.close();
    expectClosedWithoutSyscall(() => device.irqInfo(PciIrq.INTX));
    expectClosedWithoutSyscall(() => device.disableIrqs(PciIrq.INTX));
    expectClosedWithoutSyscall(() => device.unmaskIrq(PciIrq.INTX));
  }));

  it('a BAR mapping is a memslot; closing the mapping deletes the slot first, and a closed mapping is refused', () => scoped((use) => {
    const device = eduDevice(use);
    const vm = use(use(Kvm.open()).createVm());
    const bar0 = device.mapRegion(PciRegion.BAR0);
    vm.setMemoryRegion({ slot: 3, guestPhysAddr: 1n << 40n, memory: bar0 });
    assert.deepEqual(bar0.users, ['vm memory slot 3']);
    vm.setMemoryRegion({ slot: 4, guestPhysAddr: 1n << 41n, memory: bar0 }); // one BAR may back several slots
    const { syscalls } = traceSyscalls(() => bar0.close());
    assert.deepEqual(syscalls.map((s) => s.request ?? s.syscall).filter((name) => name !== 'munmap'), ['KVM_SET_USER_MEMORY_REGION', 'KVM_SET_USER_MEMORY_REGION']);
    assert.throws(() => vm.setMemoryRegion({ slot: 3, guestPhysAddr: 1n << 40n, memory: bar0 }), { code: 'ERR_KVM_CLOSED' });
    assert.throws(() => vm.setMemoryRegion({ slot: 3, guestPhysAddr: 1n << 40n, memory: {} }), { name: 'TypeError', message: /GuestMemory or RegionMapping/ });
  }));

  it('the reference VMM wires edu\'s INTx into the kernel\'s XICS: the source defined level-triggered (KVM_DEV_XICS_GRP_SOURCES), KVM_IRQFD with a resample eventfd, VFIO trigger and unmask eventfds', () => {
    const kernelPath = kernelImage();
    const kernel = parseKernelImage(readFileSync(kernelPath), kernelPath);
    const { result: machine, syscalls } = traceSyscalls(() => SpaprMachine.create({ kernel, initrd: new Uint8Array(4096), memorySize: 256n << 20n, commandLine: '', cpus: 1, irqchip: 'kernel', passthrough: [DEVICE_EDU], output: () => {} }));
    try {
      const requests = syscalls.map((s) => s.request).filter(Boolean);
      const wiring = requests.slice(requests.lastIndexOf('KVM_SET_DEVICE_ATTR'));
      assert.deepEqual(wiring.filter((r) => ['KVM_SET_DEVICE_ATTR', 'KVM_IRQFD', 'VFIO_DEVICE_SET_IRQS'].includes(r)), ['KVM_SET_DEVICE_ATTR', 'KVM_IRQFD', 'VFIO_DEVICE_SET_IRQS', 'VFIO_DEVICE_SET_IRQS']);
      assert.ok(requests.includes('KVM_SET_USER_MEMORY_REGION'));
    } finally {
      machine.close();
    }
  });

  it('the reference VMM refuses runOnThisThread() for a passed-through INTx into the XICS in JavaScript (the event loop is blocked there)', () => {
    const kernelPath = kernelImage();
    const kernel = parseKernelImage(readFileSync(kernelPath), kernelPath);
    const machine = SpaprMachine.create({ kernel, initrd: new Uint8Array(4096), memorySize: 256n << 20n, commandLine: '', cpus: 1, irqchip: 'user', passthrough: [DEVICE_EDU], output: () => {} });
    try {
      assert.throws(() => machine.runOnThisThread(), { name: 'MachineConfigError', message: /event loop/ });
    } finally {
      machine.close();
    }
    VfioGroup.open(GROUP_EDU).close(); // the machine let the group go
    const cli = spawnSync(process.execPath, ['dist/examples/spapr-vmm/main.js', '--kernel', kernelPath, '--initrd', kernelPath, '--vfio', DEVICE_EDU, '--irqchip', 'user', '--exit-path', 'vcpu-thread'], { encoding: 'utf8' });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /--vfio with --irqchip user delivers INTx on the event loop/);
  });
});
