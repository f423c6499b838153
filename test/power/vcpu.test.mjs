// vCPUs on the emulated POWER host: registers, ONE_REG, stats, and run() with KVM_RUN on its own
// thread (arch/powerpc/kvm/book3s_hv.c kvmppc_vcpu_run_hv, powerpc.c kvm_arch_vcpu_ioctl_run).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cap, ExitReason, GuestMemory, HcallReturn, Kvm, OneReg } from '../../dist/index.js';
import { DONE, ENTRY, MSR_LE_REAL_MODE, Reg, loadProgram, loopRegisters } from '../../dist/examples/l2-program.js';
import { TceGuest } from '../../dist/examples/tce-guest.js';
import { EXPECTED, expectClosedWithoutSyscall, expectKvmError, scoped } from './helpers.mjs';

const MEMORY = 64n << 20n;
const NOT_A_TABLE = 0x1000n; // a LIOBN without an in-kernel table: every H_PUT_TCE exits

function guestScope(use) {
  const kvm = use(Kvm.open());
  const vm = use(kvm.createVm());
  const memory = use(GuestMemory.allocate(MEMORY));
  return { kvm, vm, memory };
}

describe('vCPUs on the emulated POWER host', () => {
  it('reads and writes registers and ONE_REG (LPCR_64 defaults to 0x40000000540413); a duplicate vCPU id is EINVAL (book3s_hv.c kvmppc_core_vcpu_create_hv)', () => scoped((use) => {
    const { vm } = guestScope(use);
    const vcpu = use(vm.createVcpu(0));
    // The VM's LPCR (kvmppc_core_init_vm_hv, book3s_hv.c) starts from the host's: a nested kvm-hv and
    // bare-metal PowerNV differ in the low bits (0x40000000540413 vs 0x4000000054f41f, measured 2026-12-07).
    assert.equal(vcpu.getOneReg('LPCR_64'), EXPECTED.defaultLpcr);
    assert.equal(OneReg.LPCR_64, 0x10300000000000b5n); // KVM_REG_PPC | KVM_REG_SIZE_U64 | 0xb5
    vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: [0n, 0n, 0n, 7n] });
    const regs = vcpu.getRegs();
    assert.equal(regs.pc, ENTRY);
    assert.equal(regs.msr, MSR_LE_REAL_MODE);
    assert.equal(regs.gpr[3], 7n);
    assert.equal(regs.gpr.length, 32);
    vcpu.setOneReg('FPR14', 0x400921fb54442d18n);
    assert.equal(vcpu.getOneReg('FPR14'), 0x400921fb54442d18n);
    // POWER9 kvm-hv reports a duplicate id as a vcore collision: EINVAL, not kvm_main.c's EEXIST.
    expectKvmError(() => vm.createVcpu(0), { code: 'EINVAL', request: 'KVM_CREATE_VCPU', hint: 'already exists' });
  }));

  it('KVM_RUN without PAPR mode is EINVAL, exit 17, with a hint (kvmppc_vcpu_run_hv: the vCPU is not "sane")', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
    loadProgram(memory.buffer);
    const vcpu = use(vm.createVcpu(0));
    vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE });
    await assert.rejects(vcpu.run({}), (error) => {
      assert.equal(error.code, 'EINVAL');
      assert.equal(error.request, 'KVM_RUN');
      assert.match(error.hint, /PPC_PAPR/);
      assert.match(error.message, /exit_reason 17 = KVM_EXIT_INTERNAL_ERROR/);
      return true;
    });
  }));

  it('delivers every hypercall the kernel leaves to user space to JavaScript, and returns the answer in r3', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    const seen = [];
    const report = await guest.runLoop({ hcall: 0x20n, liobn: NOT_A_TABLE, iterations: 10, ioba: 0n, tce: 0x100003n }, (call) => {
      seen.push([call.nr, call.args[0], call.args[1], call.args[2]]);
      return { ret: seen.length % 2 === 0 ? HcallReturn.H_PARAMETER : HcallReturn.H_SUCCESS };
    });
    assert.equal(report.hypercalls, 10);
    assert.equal(report.userExits, 10);
    assert.equal(report.failed, 5); // every second answer was H_PARAMETER
    assert.deepEqual(seen[0], [0x20n, NOT_A_TABLE, 0n, 0x100003n]);
    assert.deepEqual(seen[9], [0x20n, NOT_A_TABLE, 0x9000n, 0x109003n]);
    assert.equal(report.run.exits, 11n); // 10 loop calls + DONE
    assert.equal(report.run.lastExit.nr, DONE);
  }));

  it('returned arguments reach r4.. (an H_GET_TCE answered from JavaScript)', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    const report = await guest.runLoop({ hcall: 0x1cn, liobn: NOT_A_TABLE, iterations: 4 }, (call) => ({ ret: 0n, args: [call.args[1] + 5n] }));
    assert.equal(report.r4Sum, 0n + 5n + 0x1005n + 0x2005n + 0x3005n);
  }));

  it('keeps the run thread\'s f14-f31 through many KVM_RUNs (save/restore around the ioctl; clobbers counted)', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters({ hcall: 0x20n, liobn: NOT_A_TABLE, iterations: 300 }) });
    for (let n = 14; n < 32; n += 1) guest.vcpu.setOneReg(`FPR${n}`, 0x3ff0000000000000n + BigInt(n)); // the L2's own values
    const result = await guest.vcpu.run({ hypercall: (call) => (call.nr === DONE ? 'stop' : { ret: 0n }) }, { fpCanary: true });
    assert.equal(result.runs, 301n);
    assert.equal(result.fpCanaryIntact, true);
    console.log(`# KVM_RUN returned with clobbered non-volatile FP/vector registers ${result.fpClobbers} of ${result.runs} times (restored each time)`);
  }));

  it('stop() and the timeout end a run in progress; closing the vCPU mid-run is safe', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters({ hcall: 0x20n, liobn: NOT_A_TABLE, iterations: 1_000_000 }) });
    let calls = 0;
    const running = guest.vcpu.run({ hypercall: () => (calls += 1, { ret: 0n }) });
    assert.equal(guest.vcpu.running, true);
    await assert.rejects(guest.vcpu.run({}), { code: 'ERR_KVM_VCPU_RUNNING' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    guest.vcpu.stop();
    const result = await running;
    assert.equal(result.outcome, 'stopped');
    assert.ok(calls > 0);
    const timed = await guest.vcpu.run({ hypercall: () => ({ ret: 0n }) }, { timeoutMs: 200 });
    assert.equal(timed.outcome, 'stopped');
    const closing = guest.vcpu.run({ hypercall: () => ({ ret: 0n }) });
    guest.vcpu.close();
    assert.equal((await closing).outcome, 'stopped');
    expectClosedWithoutSyscall(() => guest.vcpu.getRegs());
  }));

  it('a handler that throws ends the run with its error', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters({ hcall: 0x20n, liobn: NOT_A_TABLE, iterations: 5 }) });
    await assert.rejects(guest.vcpu.run({ hypercall: () => { throw new Error('handler failed'); } }), /handler failed/);
    assert.equal(guest.vcpu.running, false);
  }));

  it('reports kernel statistics by name (KVM_GET_STATS_FD)', () => scoped(async (use) => {
    const { vm, memory } = guestScope(use);
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    await guest.runLoop({ hcall: 0x20n, liobn: NOT_A_TABLE, iterations: 3 });
    const stats = guest.vcpu.stats();
    assert.equal(typeof stats.halt_successful_poll, 'bigint');
    assert.ok(Object.keys(stats).length > 5);
    assert.equal(typeof vm.stats().remote_tlb_flush, 'bigint');
    for (const name of [...Object.keys(stats), ...Object.keys(vm.stats())]) assert.match(name, /^[A-Za-z][A-Za-z0-9_]*$/, 'every descriptor decoded at its 16-byte stride');
    assert.equal(ExitReason.PAPR_HCALL, 19);
    assert.equal(Cap.PPC_PAPR, 68);
  }));

  it('closing guest memory deletes its memslot first', () => scoped((use) => {
    const { vm } = guestScope(use);
    const memory = GuestMemory.allocate(1n << 20n);
    vm.setMemoryRegion({ slot: 3, guestPhysAddr: 0x4000000n, memory });
    assert.deepEqual(memory.users, ['vm memory slot 3']);
    memory.close();
    vm.setMemoryRegion({ slot: 3, guestPhysAddr: 0x4000000n, memory: use(GuestMemory.allocate(1n << 20n)) }); // the slot is free again
  }));
});
