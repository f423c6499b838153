// vcpu.runSync(): KVM_RUN and the JavaScript handler on one thread, in a Worker, on the emulated
// POWER host: the same answers as run(), a kick from the main thread ends a guest that never exits
// on its own, and the main thread is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { GuestMemory, Kvm, Vcpu, traceSyscalls } from '../../dist/index.js';
import { TceGuest } from '../../dist/examples/tce-guest.js';
import { scoped } from './helpers.mjs';

const WORKER = new URL('./children/run-sync-worker.mjs', import.meta.url);

function inWorker(workerData, onOnline = () => {}) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData });
    worker.once('online', () => onOnline(worker));
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the worker exited ${code} without a result`)));
  });
}

describe('vcpu.runSync() in a Worker', () => {
  it('runs the hypercall loop to DONE with every exit answered on the KVM_RUN thread', async () => {
    const result = await inWorker({ mode: 'loop', hypercalls: 500 });
    assert.deepEqual(result, { hypercalls: 500, failed: 0, userExits: 500, outcome: 'handler', exits: '501' });
  });

  it('registerHypercall answers without allocating: registers[1..9] written by the handler reach r4..r12', async () => {
    const result = await inWorker({ mode: 'registers', hypercalls: 300 });
    assert.deepEqual(result, { outcome: 'handler', hypercalls: 300, r4Sum: String(7 * 300), counted: '301', byReason: '301' });
  });

  it('a long run keeps no exit object alive: the heap after GC does not grow with the exits (no handle outlives 64 exits)', async () => {
    const hypercalls = 5000;
    const result = await inWorker({ mode: 'heap', hypercalls });
    assert.equal(result.outcome, 'handler');
    assert.equal(result.seen, hypercalls);
    // Kept alive, each half's 1,995 exit objects (each with its 9 BigInt arguments) would be well over 512 KiB.
    assert.ok(result.growth < 256 * 1024, `the heap grew ${result.growth} bytes over the smaller-growing half of 3,990 exits`);
  });

  for (const [mode, what] of [['forever', 'whose guest keeps exiting'], ['spin', 'whose guest never exits (inside KVM_RUN: the signal gets it out)']]) {
    it(`Vcpu.kick(stopFlag) from the main thread ends a run ${what}`, async () => {
      const stopFlag = new Int32Array(new SharedArrayBuffer(8)); // [0] the stop flag, [1] set by the worker just before runSync()
      const running = inWorker({ mode, stopFlag });
      while (Atomics.load(stopFlag, 1) === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(Vcpu.kick(stopFlag), true, 'the worker\'s run watches the flag');
      const result = await running;
      assert.equal(result.outcome, 'stopped');
      if (mode === 'forever') assert.ok(Number(result.exits) > 0);
      else assert.equal(result.exits, '0');
      assert.equal(Vcpu.kick(stopFlag), false, 'nothing watches the flag any more');
    });
  }

  it('the main thread is refused before any syscall; a bad stop flag is a TypeError', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const memory = use(GuestMemory.allocate(64n << 20n));
    const guest = TceGuest.create(vm, memory);
    use({ [Symbol.dispose]: () => guest.close() });
    const { syscalls } = traceSyscalls(() => {
      assert.throws(() => guest.vcpu.runSync({}), { code: 'ERR_KVM_SYNC_ON_MAIN_THREAD' });
      assert.throws(() => guest.vcpu.runSync({}, { stopFlag: new Int32Array(1) }), TypeError);
      assert.throws(() => Vcpu.kick(new Int32Array(1)), TypeError);
    });
    assert.deepEqual(syscalls, []);
  }));
});
