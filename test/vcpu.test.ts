// vCPUs and guest memory against this machine's own x86_64 kernel, where it has a usable /dev/kvm:
// memslots, vCPU creation, binary stats, and run() with KVM_RUN on its own thread driving a real
// x86 guest of a few bytes at the reset vector. Register access is ppc64-only by design. Without a
// usable /dev/kvm these tests skip and say why; test/power/vcpu.test.mjs runs the POWER side.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ExitReason, GuestMemory, Kvm, type OtherExit } from '../dist/index.js';
import { caught, tracingSyscalls, x86KvmUnavailable } from './helpers.js';

const unavailable = await x86KvmUnavailable();
if (unavailable) console.warn(unavailable);

// An x86 vCPU starts in real mode at CS base 0xffff0000, IP 0xfff0: guest-physical 0xfffffff0
// (arch/x86/kvm/x86.c kvm_vcpu_reset). One 64 KiB slot ending at 4 GiB holds the program.
const RESET_SLOT_BASE = 0xffff0000n;
const RESET_OFFSET = 0xfff0;
const OUT_THEN_HLT = [0xb0, 0x2a, 0xe6, 0x10, 0xf4]; // mov al, 0x2a; out 0x10, al; hlt
const SPIN = [0xeb, 0xfe]; // jmp $
// mov al, [0x8000]; mov [0x8001], al; out 0x10, al; hlt: no memslot below 0xffff0000, so both are MMIO
const LOAD_STORE_OUT_HLT = [0xa0, 0x00, 0x80, 0xa2, 0x01, 0x80, 0xe6, 0x10, 0xf4];
const RUN_SYNC_WORKER = new URL('./support/x86-run-sync-worker.mjs', import.meta.url);

function runSyncInWorker(workerData: { program: number[]; answer: number; throwAt?: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(RUN_SYNC_WORKER, { workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function guest(program: number[]) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(64n << 10n);
  new Uint8Array(memory.buffer).set(program, RESET_OFFSET);
  vm.setMemoryRegion({ slot: 0, guestPhysAddr: RESET_SLOT_BASE, memory });
  const vcpu = vm.createVcpu(0);
  return {
    vcpu,
    vm,
    [Symbol.dispose]() {
      vcpu.close();
      memory.close();
      vm.close();
      kvm.close();
    },
  };
}

describe.skipIf(unavailable !== undefined)(`x86 vCPUs and guest memory on this machine${unavailable ? ` — ${unavailable}` : ''}`, () => {
  it('guest memory becomes a memslot; an overlapping slot is EEXIST with the hint; closing the memory deletes its slot first (virt/kvm/kvm_main.c kvm_set_memory_region)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    using memory = GuestMemory.allocate(2n << 20n);
    vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
    expect(memory.users).toEqual(['vm memory slot 0']);
    const overlap = caught(() => vm.setMemoryRegion({ slot: 1, guestPhysAddr: 1n << 20n, memory }));
    expect(overlap).toMatchObject({ code: 'EEXIST', request: 'KVM_SET_USER_MEMORY_REGION', target: 'vm' });
    expect(overlap.hint).toContain('overlaps another slot');
    const other = GuestMemory.allocate(2n << 20n);
    vm.setMemoryRegion({ slot: 1, guestPhysAddr: 4n << 20n, memory: other, readonly: true });
    other.close(); // deletes slot 1, then unmaps
    vm.setMemoryRegion({ slot: 2, guestPhysAddr: 4n << 20n, memory: GuestMemory.allocate(2n << 20n) }); // the range is free again
  });

  it('creates vCPUs; a duplicate id is EEXIST with the hint (virt/kvm/kvm_main.c kvm_vm_ioctl_create_vcpu)', () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    using first = vm.createVcpu(0);
    using second = vm.createVcpu(1);
    expect([first.id, second.id]).toEqual([0, 1]);
    const duplicate = caught(() => vm.createVcpu(0));
    expect(duplicate).toMatchObject({ code: 'EEXIST', request: 'KVM_CREATE_VCPU' });
    expect(duplicate.hint).toContain('already exists');
  });

  it('register access is ppc64-only: getRegs is ENOSYS without a syscall, a ONE_REG name is a TypeError that says so', async () => {
    using kvm = Kvm.open();
    using vm = kvm.createVm();
    using vcpu = vm.createVcpu(0);
    const { error, syscalls } = await tracingSyscalls(() => vcpu.getRegs());
    expect(error).toMatchObject({ code: 'ENOSYS', request: 'KVM_GET_REGS' });
    expect(syscalls).toBe(0);
    expect(() => vcpu.getOneReg('LPCR_64')).toThrow(/none are named on x64/);
  });

  it('runs a real x86 guest on the run thread: its port I/O and HLT reach the exit handler, and "continue" re-enters (arch/x86/kvm/x86.c)', async () => {
    using scope = guest(OUT_THEN_HLT);
    const exits: OtherExit[] = [];
    const result = await scope.vcpu.run({
      exit(exit) {
        exits.push(exit);
        return exit.reason === ExitReason.IO ? 'continue' : 'stop';
      },
    });
    expect(exits.map((exit) => exit.reason)).toEqual([ExitReason.IO, ExitReason.HLT]);
    expect(result).toMatchObject({ outcome: 'handler', runs: 2n, exits: 2n, hypercalls: 0n, lastExit: { reason: ExitReason.HLT } });
  });

  it('binary stats: every VM and vCPU descriptor by name, values at their offsets (virt/kvm/binary_stats.c kvm_stats_read)', async () => {
    using scope = guest(OUT_THEN_HLT);
    await scope.vcpu.run({ exit: (exit) => (exit.reason === ExitReason.IO ? 'continue' : 'stop') });
    const vcpuStats = scope.vcpu.stats();
    const vmStats = scope.vm.stats();
    for (const name of [...Object.keys(vcpuStats), ...Object.keys(vmStats)]) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/);
    expect(Object.keys(vcpuStats).length).toBeGreaterThan(20);
    expect(Object.keys(vmStats)).toContain('remote_tlb_flush');
    expect(vcpuStats.halt_exits).toBe(1n); // the HLT
    expect(vcpuStats.exits as bigint).toBeGreaterThanOrEqual(2n);
    // The OUT is an I/O exit, or emulated with the real-mode code when the host (here a nested
    // one) lacks unrestricted guest: either counter shows it.
    expect((vcpuStats.io_exits as bigint) + (vcpuStats.insn_emulation as bigint)).toBeGreaterThanOrEqual(1n);
    expect(Array.isArray(vcpuStats.halt_poll_success_hist)).toBe(true); // a histogram: one value per bucket
  });

  it('stop() and the timeout end a guest that spins; closing a running vCPU is safe', async () => {
    using scope = guest(SPIN);
    const timed = await scope.vcpu.run({}, { timeoutMs: 100 });
    expect(timed.outcome).toBe('stopped');
    const running = scope.vcpu.run({});
    expect(scope.vcpu.running).toBe(true);
    setTimeout(() => scope.vcpu.stop(), 50);
    expect((await running).outcome).toBe('stopped');
    const closing = scope.vcpu.run({});
    scope.vcpu.close();
    expect((await closing).outcome).toBe('stopped');
    expect(scope.vcpu.closed).toBe(true);
  });

  it('runSync() in a Worker: an MMIO load takes the handler\'s byte, the store after it carries that byte, port I/O continues, HLT stops (the exit record, lib/exit-record.ts)', async () => {
    const result = await runSyncInWorker({ program: LOAD_STORE_OUT_HLT, answer: 0x5a });
    expect(result.seen).toEqual([
      { address: '0x8000', length: 1, isWrite: false, data: undefined },
      { address: '0x8001', length: 1, isWrite: true, data: [0x5a] },
      { reason: ExitReason.IO },
      { reason: ExitReason.HLT },
    ]);
    expect(result).toMatchObject({ outcome: 'handler', exits: '4', exitsByReason: { MMIO: '2', IO: '1', HLT: '1' } });
  });

  it('runSync(): a handler that throws at the second exit ends the run with that error, and the vCPU is no longer running', async () => {
    const result = await runSyncInWorker({ program: LOAD_STORE_OUT_HLT, answer: 0x5a, throwAt: 1 });
    expect(result.seen).toHaveLength(1);
    expect(result.thrown).toEqual({ name: 'RangeError', message: 'no device at 0x8001', running: false });
  });

  it('a handler that throws ends the run with its error', async () => {
    using scope = guest(OUT_THEN_HLT);
    const thrown = new Error('the VMM does not emulate port 0x10');
    await expect(scope.vcpu.run({ exit: () => { throw thrown; } })).rejects.toBe(thrown);
    expect(scope.vcpu.running).toBe(false);
  });
});
