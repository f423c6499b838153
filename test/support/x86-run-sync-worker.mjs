// vcpu.runSync() on this x86 machine's /dev/kvm, in a Worker (it refuses the main thread): runs
// workerData.program at the reset vector, answers every MMIO load with workerData.answer, and posts
// what the handlers saw and the run's result. With workerData.throwAt, the handler throws at that
// exit and the worker posts what runSync threw.
import { parentPort, workerData } from 'node:worker_threads';
import { ExitReason, GuestMemory, Kvm } from '../../dist/index.js';

const RESET_SLOT_BASE = 0xffff0000n;
const RESET_OFFSET = 0xfff0;

const kvm = Kvm.open();
const vm = kvm.createVm();
const memory = GuestMemory.allocate(64n << 10n);
new Uint8Array(memory.buffer).set(workerData.program, RESET_OFFSET);
vm.setMemoryRegion({ slot: 0, guestPhysAddr: RESET_SLOT_BASE, memory });
const vcpu = vm.createVcpu(0);
const seen = [];
const handlers = {
  mmio(access) {
    if (seen.length === workerData.throwAt) throw new RangeError(`no device at 0x${access.address.toString(16)}`);
    seen.push({ address: `0x${access.address.toString(16)}`, length: access.length, isWrite: access.isWrite, data: access.data ? [...access.data] : undefined });
    return access.isWrite ? undefined : Uint8Array.of(workerData.answer);
  },
  exit(exit) {
    seen.push({ reason: exit.reason });
    return exit.reason === ExitReason.IO ? 'continue' : 'stop';
  },
};
let result;
let thrown;
try {
  result = vcpu.runSync(handlers);
} catch (error) {
  thrown = { name: error.name, message: error.message, running: vcpu.running };
}
vcpu.close();
memory.close();
vm.close();
kvm.close();
if (thrown) parentPort.postMessage({ seen, thrown });
else parentPort.postMessage({ seen, outcome: result.outcome, exits: String(result.exits), exitsByReason: Object.fromEntries(Object.entries(result.exitsByReason).map(([name, count]) => [name, String(count)])) });
