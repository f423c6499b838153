// The VMM-facing calls on the emulated POWER host's kvm-hv (6.12; nested in a partition, or PowerNV's):
// MMIO exits with data, ioeventfd, the radix MMU, RTAS tokens, the in-kernel XICS device and what each
// platform has or lacks (XIVE, a hashed page table: platform.mjs), each errno as the kernel returns it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cap, DeviceType, EventFd, ExitReason, GuestMemory, Kvm } from '../../dist/index.js';
import { DONE, ENTRY, LPCR_ILE, MSR_LE_REAL_MODE, loadMmioProgram } from '../../dist/examples/l2-program.js';
import { EXPECTED, expectClosedWithoutSyscall, expectKvmError, scoped } from './helpers.mjs';

const MEMORY = 64n << 20n;
const OUTSIDE_RAM = 0x2000_0000n; // no memory slot: guest accesses exit as MMIO
const STORED = 0x12345678n;

function vmScope(use) {
  const kvm = use(Kvm.open());
  return { kvm, vm: use(kvm.createVm()) };
}

/** A VM running the MMIO probe (examples/l2-program.ts loadMmioProgram): store r6 to [r5], load [r5] into r7. */
function mmioGuest(use) {
  const { vm } = vmScope(use);
  const memory = use(GuestMemory.allocate(MEMORY));
  vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
  loadMmioProgram(memory.buffer);
  const vcpu = use(vm.createVcpu(0));
  vcpu.enableCap(Cap.PPC_PAPR);
  vcpu.setOneReg('LPCR_64', vcpu.getOneReg('LPCR_64') | LPCR_ILE);
  const start = () => vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: [0n, 0n, 0n, 0n, 0n, OUTSIDE_RAM, STORED, 0n] });
  return { vm, vcpu, start };
}

const untilDone = { hypercall: (call) => (call.nr === DONE ? 'stop' : { ret: -2n }) };

describe('VMM calls on the emulated POWER host', () => {
  it('a store and a load outside RAM exit as KVM_EXIT_MMIO with address, width and bytes; the load reads the handler\'s answer', () => scoped(async (use) => {
    const { vcpu, start } = mmioGuest(use);
    start();
    const accesses = [];
    const result = await vcpu.run({ ...untilDone, mmio: (access) => (accesses.push(access), access.isWrite ? undefined : Uint8Array.of(1, 2, 3, 4)) }, { timeoutMs: 60_000 });
    assert.equal(result.outcome, 'handler');
    assert.deepEqual(result.exitsByReason, { MMIO: 2n, PAPR_HCALL: 1n });
    const [store, load] = accesses;
    assert.deepEqual({ ...store, data: [...store.data] }, { reason: ExitReason.MMIO, address: OUTSIDE_RAM, length: 4, isWrite: true, data: [0x78, 0x56, 0x34, 0x12] });
    assert.deepEqual(load, { reason: ExitReason.MMIO, address: OUTSIDE_RAM, length: 4, isWrite: false });
    assert.equal(vcpu.getRegs().gpr[7], 0x04030201n, 'a little-endian lwz of bytes 1,2,3,4');
  }));

  it('an answer of the wrong width rejects the run with a RangeError', () => scoped(async (use) => {
    const { vcpu, start } = mmioGuest(use);
    start();
    await assert.rejects(vcpu.run({ ...untilDone, mmio: (access) => (access.isWrite ? undefined : new Uint8Array(2)) }, { timeoutMs: 60_000 }), RangeError);
  }));

  it('with an ioeventfd on the address the store signals the eventfd and never exits; EEXIST twice, ENOENT on a second removal (virt/kvm/eventfd.c)', () => scoped(async (use) => {
    const { vm, vcpu, start } = mmioGuest(use);
    const doorbell = use(EventFd.create());
    vm.ioeventfd({ eventFd: doorbell, address: OUTSIDE_RAM, length: 4 });
    expectKvmError(() => vm.ioeventfd({ eventFd: doorbell, address: OUTSIDE_RAM, length: 4 }), { code: 'EEXIST', request: 'KVM_IOEVENTFD', hint: 'already exists' });
    start();
    const result = await vcpu.run({ ...untilDone, mmio: (access) => (access.isWrite ? undefined : new Uint8Array(4)) }, { timeoutMs: 60_000 });
    assert.deepEqual(result.exitsByReason, { MMIO: 1n, PAPR_HCALL: 1n }, 'only the load reached user space');
    assert.equal(doorbell.read(), 1n);
    vm.removeIoeventfd({ eventFd: doorbell, address: OUTSIDE_RAM, length: 4 });
    expectKvmError(() => vm.removeIoeventfd({ eventFd: doorbell, address: OUTSIDE_RAM, length: 4 }), { code: 'ENOENT', request: 'KVM_IOEVENTFD' });
  }));

  it('radixMmuInfo() lists 4 KiB and 64 KiB radix pages; configureRadixMmu() takes a process table and refuses a size field above 24 with EINVAL (book3s_hv.c kvmhv_configure_mmu)', () => scoped((use) => {
    const { vm } = vmScope(use);
    const info = vm.radixMmuInfo();
    assert.deepEqual(info.geometries.map((geometry) => geometry.pageShift), [12, 16]);
    assert.ok(info.apEncodings.includes(12) && info.apEncodings.length >= 2, JSON.stringify(info));
    expectKvmError(() => vm.configureRadixMmu({ processTable: 25n }), { code: 'EINVAL', request: 'KVM_PPC_CONFIGURE_V3_MMU', hint: 'size field above 24' });
    vm.configureRadixMmu({ processTable: 0x10_0000n | 4n, gtse: true });
  }));

  it(`${EXPECTED.description}: ${EXPECTED.hashPageTable ? 'a hashed page table of the order asked' : 'no hashed page table (EOPNOTSUPP)'}, ${EXPECTED.interruptController.xive ? 'an in-kernel XIVE' : 'no XIVE (ENODEV)'}, no irqchip until one is made (KVM_IRQ_LINE ENXIO, KVM_IRQFD EAGAIN)`, () => scoped((use) => {
    const { vm } = vmScope(use);
    assert.equal(vm.checkExtension(Cap.PPC_MMU_HASH_V3), 0);
    if (EXPECTED.hashPageTable) {
      assert.equal(vm.allocateHashPageTable(24), 24);
    } else {
      expectKvmError(() => vm.allocateHashPageTable(24), { code: 'EOPNOTSUPP', request: 'KVM_PPC_ALLOCATE_HTAB', hint: 'radix guests only' });
    }
    expectKvmError(() => vm.irqLine(1, true), { code: 'ENXIO', request: 'KVM_IRQ_LINE', hint: 'no in-kernel interrupt controller' });
    const doorbell = use(EventFd.create());
    expectKvmError(() => vm.irqfd({ eventFd: doorbell, gsi: 5 }), { code: 'EAGAIN', request: 'KVM_IRQFD', hint: 'XICS' });
    assert.equal(vm.checkExtension(Cap.PPC_IRQ_XIVE), EXPECTED.interruptController.xive ? 1 : 0);
    if (EXPECTED.interruptController.xive) {
      use(vm.createDevice(DeviceType.XIVE));
    } else {
      expectKvmError(() => vm.createDevice(DeviceType.XIVE), { code: 'ENODEV', request: 'KVM_CREATE_DEVICE' });
    }
  }));

  it('the in-kernel XICS exists there: a vCPU connects to it, and then an irqfd can be assigned and removed', () => scoped((use) => {
    const { vm } = vmScope(use);
    assert.equal(vm.checkExtension(Cap.IRQ_XICS), 1);
    const xics = use(vm.createDevice(DeviceType.XICS));
    const vcpu = use(vm.createVcpu(0));
    vcpu.enableCap(Cap.PPC_PAPR);
    vcpu.connectXics(xics, 0);
    const doorbell = use(EventFd.create());
    vm.irqfd({ eventFd: doorbell, gsi: 0x1000 });
    vm.removeIrqfd({ eventFd: doorbell, gsi: 0x1000 });
  }));

  it('RTAS tokens: the XICS calls can be given to the kernel, other names are ENOENT, a token used twice is EEXIST (book3s_rtas.c)', () => scoped((use) => {
    const { vm } = vmScope(use);
    vm.defineRtasToken('ibm,set-xive', 0x2000);
    expectKvmError(() => vm.defineRtasToken('ibm,get-xive', 0x2000), { code: 'EEXIST', request: 'KVM_PPC_RTAS_DEFINE_TOKEN' });
    expectKvmError(() => vm.defineRtasToken('power-off', 0x2001), { code: 'ENOENT', request: 'KVM_PPC_RTAS_DEFINE_TOKEN', hint: 'XICS calls only' });
    vm.defineRtasToken('ibm,set-xive', 0);
  }));

  it('bad arguments throw before any syscall; a closed VM or vCPU refuses without one', () => scoped((use) => {
    const { vm } = vmScope(use);
    assert.throws(() => vm.defineRtasToken('x'.repeat(119), 1), TypeError);
    assert.throws(() => vm.ioeventfd({ eventFd: {}, address: 0n }), TypeError);
    assert.throws(() => vm.ioeventfd({ eventFd: use(EventFd.create()), address: 0n, length: 3 }), TypeError);
    assert.throws(() => vm.configureRadixMmu({ processTable: -1n }), RangeError);
    const vcpu = vm.createVcpu(0);
    vcpu.close();
    vm.close();
    expectClosedWithoutSyscall(() => vm.radixMmuInfo());
    expectClosedWithoutSyscall(() => vm.configureRadixMmu({ processTable: 0n }));
    expectClosedWithoutSyscall(() => vm.irqLine(0, true));
    expectClosedWithoutSyscall(() => vcpu.setExternalInterrupt(true));
  }));
});
