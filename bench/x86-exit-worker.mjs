// One round of bench/x86-exits.mjs on the fastest exit path: in this Worker, vcpu.runSync()
// answers each exit of the guest on the thread that called KVM_RUN. Posts { nsPerExit, exits }.
import { parentPort, workerData } from 'node:worker_threads';
import { exitHandlers, x86Guest } from './x86-guest.mjs';

const { dist, program, exits, warmup } = workerData;
const library = await import(dist);
const guest = x86Guest(library, program);
try {
  guest.vcpu.runSync(exitHandlers(library, program, warmup).handlers);
  const { handlers, answered } = exitHandlers(library, program, exits);
  const started = process.hrtime.bigint();
  guest.vcpu.runSync(handlers);
  const elapsed = Number(process.hrtime.bigint() - started);
  parentPort.postMessage({ nsPerExit: elapsed / exits, exits: answered() });
} finally {
  guest[Symbol.dispose]();
}
