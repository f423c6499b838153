// The L2 guest of the TCE acceleration proof, on a VM of this library: guest memory at
// guest-physical 0 (slot 0), one vCPU in PAPR mode with little-endian interrupts, the program of
// l2-program.ts at ENTRY. runLoop() runs the hypercall loop once and reports what happened.
import { Cap, ExitReason, type GuestMemory, HcallReturn, type HypercallAnswer, type HypercallExit, type RunResult, type Vcpu, type Vm } from 'kvm-vfio-spapr';
import { DONE, ENTRY, LPCR_ILE, type LoopInputs, MSR_LE_REAL_MODE, Reg, loadProgram, loopRegisters, vectorOf } from './l2-program.js';

/** What one run of the loop did. */
export interface LoopReport {
  /** Hypercalls the guest made (its own counter, r22). */
  hypercalls: number;
  /** Of those, how many returned non-zero (r23). */
  failed: number;
  /** Sum of r4 after each call (r24): what H_GET_TCE returned. */
  r4Sum: bigint;
  /** Loop hypercalls that exited to user space (the DONE marker is not counted). */
  userExits: number;
  run: RunResult;
}

export class TceGuest {
  private constructor(readonly vm: Vm, readonly vcpu: Vcpu, readonly memory: GuestMemory) {}

  /** Sets up the vCPU and loads the program into `memory`, which becomes guest RAM at 0. */
  static create(vm: Vm, memory: GuestMemory): TceGuest {
    vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
    loadProgram(memory.buffer);
    const vcpu = vm.createVcpu(0);
    vcpu.enableCap(Cap.PPC_PAPR); // without it kvm-hv refuses KVM_RUN (EINVAL, exit 17)
    vcpu.setOneReg('LPCR_64', vcpu.getOneReg('LPCR_64') | LPCR_ILE);
    return new TceGuest(vm, vcpu, memory);
  }

  /**
   * Runs the loop once with these inputs. Loop hypercalls that reach user space are answered by
   * `onHypercall` (default H_SUCCESS); a stray interrupt (a vector marker) fails the run.
   */
  async runLoop(inputs: LoopInputs, onHypercall: (call: HypercallExit) => HypercallAnswer = () => ({ ret: HcallReturn.H_SUCCESS })): Promise<LoopReport> {
    const loop = this.#start(inputs, onHypercall);
    return loop.report(await this.vcpu.run({ hypercall: loop.hypercall }, { timeoutMs: 600_000 }));
  }

  /**
   * runLoop() on the fastest exit path: vcpu.runSync() (call it in a Worker) with the
   * allocation-free register handler, every hypercall answered H_SUCCESS.
   */
  runLoopSync(inputs: LoopInputs): LoopReport {
    const loop = this.#start(inputs, () => ({ ret: HcallReturn.H_SUCCESS }));
    return loop.report(this.vcpu.runSync({
      registerHypercall: (registers) => {
        const nr = registers[0]!;
        if (nr === DONE || vectorOf(nr) !== undefined) return loop.hypercall({ reason: ExitReason.PAPR_HCALL, nr, args: [] }) as 'stop';
        loop.countExit();
        return HcallReturn.H_SUCCESS;
      },
    }));
  }

  #start(inputs: LoopInputs, onHypercall: (call: HypercallExit) => HypercallAnswer) {
    this.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters(inputs) });
    let userExits = 0;
    let stray: number | undefined;
    const hypercall = (call: HypercallExit): HypercallAnswer | 'stop' => {
      if (call.nr === DONE) return 'stop';
      stray = vectorOf(call.nr);
      if (stray !== undefined) return 'stop';
      userExits += 1;
      return onHypercall(call);
    };
    const report = (run: RunResult): LoopReport => {
      if (stray !== undefined) throw new Error(`the L2 guest took an interrupt at vector 0x${stray.toString(16)}`);
      if (run.outcome !== 'handler') throw new Error(`the L2 guest did not reach DONE (${run.outcome})`);
      const gpr = this.vcpu.getRegs().gpr;
      return { hypercalls: Number(gpr[Reg.DONE_COUNT]), failed: Number(gpr[Reg.FAILED]), r4Sum: gpr[Reg.R4_SUM]!, userExits, run };
    };
    return { hypercall, report, countExit: () => (userExits += 1) };
  }

  close(): void {
    this.vcpu.close();
  }
}
