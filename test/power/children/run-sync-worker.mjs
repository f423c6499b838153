// test/power/run-sync.test.mjs's Worker: a TceGuest run with vcpu.runSync().
//   mode 'loop': the hypercall loop to DONE; 'heap': the same with exit objects, the heap measured
//   after GC early and late; 'forever': every hypercall is answered, DONE included, until kicked;
//   'spin': a guest branching to itself, inside KVM_RUN until kicked.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemory, Kvm } from '../../../dist/index.js';
import { DONE, ENTRY, MSR_LE_REAL_MODE, Reg, loopRegisters } from '../../../dist/examples/l2-program.js';
import { TceGuest } from '../../../dist/examples/tce-guest.js';

const kvm = Kvm.open();
const vm = kvm.createVm();
const memory = GuestMemory.allocate(64n << 20n);
const guest = TceGuest.create(vm, memory);
const loop = { hcall: 0x20n, iterations: workerData.hypercalls ?? 1, tce: 0x100003n, liobn: 0x1000n };
let message;
if (workerData.mode === 'loop') {
  const report = guest.runLoopSync(loop);
  message = { hypercalls: report.hypercalls, failed: report.failed, userExits: report.userExits, outcome: report.run.outcome, exits: String(report.run.exits) };
} else if (workerData.mode === 'registers') {
  // H_GET_TCE answered through registerHypercall: r4 = 7 each time, which the loop sums in R4_SUM.
  guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters({ ...loop, hcall: 0x1cn }) });
  const run = guest.vcpu.runSync({
    registerHypercall: (registers) => {
      if (registers[0] === DONE) return 'stop';
      registers[1] = 7n;
      return 0n;
    },
  });
  const gpr = guest.vcpu.getRegs().gpr;
  message = { outcome: run.outcome, hypercalls: Number(gpr[Reg.DONE_COUNT]), r4Sum: String(gpr[Reg.R4_SUM]), counted: String(run.hypercalls), byReason: String(run.exitsByReason.PAPR_HCALL) };
} else if (workerData.mode === 'heap') {
  // Exit objects through the hypercall handler: the heap after GC, once warmed up and near the run's end.
  const heap = [];
  setFlagsFromString('--expose-gc'); // a Worker cannot take --expose-gc in execArgv; a new context then has gc()
  const gc = runInNewContext('gc');
  guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters({ ...loop, iterations: workerData.hypercalls }) });
  let seen = 0;
  const run = guest.vcpu.runSync({
    hypercall: (call) => {
      if (call.nr === DONE) return 'stop';
      seen += 1;
      // The first sample waits until the handler is optimized: compiled code is heap too (a 6.1 run once
      // saw 0.5 MB of growth with the first sample at exit 200).
      if (seen === 1000 || seen === Math.floor((1000 + workerData.hypercalls) / 2) || seen === workerData.hypercalls - 10) {
        gc();
        gc();
        heap.push(process.memoryUsage().heapUsed);
      }
      return { ret: 0n };
    },
  });
  // Kept exit objects grow the heap in both halves; a one-off step (code compiled late, a new
  // heap page kept) in one: one fresh-clone run saw 528,656 bytes, and 20,000-exit runs -276 KB to +17 KB.
  message = { outcome: run.outcome, seen, growth: Math.min(heap[1] - heap[0], heap[2] - heap[1]) };
} else if (workerData.mode === 'spin') {
  new DataView(memory.buffer).setUint32(0x20000, 0x48000000, true); // b . : never exits (MSR_EE is off)
  guest.vcpu.setRegs({ pc: 0x20000n, msr: MSR_LE_REAL_MODE });
  Atomics.store(workerData.stopFlag, 1, 1);
  const run = guest.vcpu.runSync({}, { stopFlag: workerData.stopFlag });
  message = { outcome: run.outcome, exits: String(run.exits) };
} else {
  guest.vcpu.setRegs({ pc: ENTRY, msr: MSR_LE_REAL_MODE, gpr: loopRegisters(loop) });
  Atomics.store(workerData.stopFlag, 1, 1);
  const run = guest.vcpu.runSync({ hypercall: () => ({ ret: 0n }) }, { stopFlag: workerData.stopFlag });
  message = { outcome: run.outcome, exits: String(run.exits) };
}
guest.close();
memory.close();
vm.close();
kvm.close();
parentPort.postMessage(message);
