// bench/power.mjs's case A on the fastest exit path: in this Worker, vcpu.runSync() answers every
// H_PUT_TCE exit on the thread that called KVM_RUN. Posts { hypercalls, userExits, seconds }.
import { parentPort, workerData } from 'node:worker_threads';
import { GuestMemory, Kvm } from '../dist/index.js';
import { TceGuest } from '../dist/examples/tce-guest.js';

const { hypercalls, liobn, memorySize, tce } = workerData;
const kvm = Kvm.open();
const vm = kvm.createVm();
const memory = GuestMemory.allocate(BigInt(memorySize));
const guest = TceGuest.create(vm, memory);
const started = process.hrtime.bigint();
const report = guest.runLoopSync({ hcall: 0x20n, iterations: hypercalls, tce: BigInt(tce), liobn: BigInt(liobn) });
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
guest.close();
memory.close();
vm.close();
kvm.close();
parentPort.postMessage({ hypercalls: report.hypercalls, failed: report.failed, userExits: report.userExits, seconds });
