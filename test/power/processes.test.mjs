// Processes and threads against the real 6.12 kernel: a VM fd used from another process fails with
// EIO and a hint (KVM refuses a different mm; Node cannot fork(2), so the fd goes to a child through
// spawn's stdio and the child adopts it with Vm.fromFd); two worker_threads drive separate VMs at
// once; a worker terminated in the middle of synchronous and asynchronous calls does not crash the
// process, and what it owned is released.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Cap, Kvm, VfioGroup, resourceStats } from '../../dist/index.js';
import { NEEDS_VFIO_GROUPS, GROUP_EDU, GROUP_TESTDEV, fdsOpenedBy, openFdCount, scoped } from './helpers.mjs';

const child = (name) => new URL(`./children/${name}`, import.meta.url);

function runWorker(name, workerData, { terminateAfter } = {}) {
  return new Promise((resolve, reject) => {
    const messages = [];
    const worker = new Worker(child(name), { workerData, execArgv: [] });
    worker.on('message', (message) => {
      messages.push(message);
      // Let the worker get back into its calls (and its async work onto the thread pool) first.
      if (terminateAfter !== undefined) setTimeout(() => void worker.terminate(), terminateAfter);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => resolve({ code, messages }));
  });
}

/** Polls `probe` until it returns true (the thread pool finishing work, fds being released). */
async function eventually(probe, what, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (probe()) return;
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${seconds} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('processes and threads on the emulated POWER host', () => {
  it('a VM fd used from another process fails with EIO and a hint; Vm.fromFd adopts only VM fds; the VM still works here', () => scoped((use) => {
    const kvm = use(Kvm.open());
    const { result: vm, fds: [vmFd] } = fdsOpenedBy(() => use(kvm.createVm()));
    assert.equal(readlinkSync(`/proc/self/fd/${vmFd}`), 'anon_inode:kvm-vm');
    const run = spawnSync(process.execPath, [child('use-vm-fd.mjs').pathname], { stdio: ['ignore', 'pipe', 'pipe', vmFd], encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const results = JSON.parse(run.stdout);
    assert.equal(results.notAVm.code, 'ERR_INVALID_ARG_VALUE');
    for (const call of ['checkExtension', 'createSpaprTceTable', 'createVfioDevice']) {
      const error = results[call];
      assert.equal(error.kvmVfioError, true, call);
      assert.equal(error.code, 'EIO', `${call}: ${JSON.stringify(error)}`);
      assert.equal(error.errno, -5);
      assert.match(error.hint, /process other than the one that created the VM/);
    }
    assert.equal(vm.checkExtension(Cap.SPAPR_TCE), 1); // the creator is unaffected
    use(vm.createSpaprTceTable({ liobn: 0x90000000n, size: 512n }));
  }));

  it('two worker_threads drive separate VMs at once, each linking its own VFIO group', NEEDS_VFIO_GROUPS, async () => {
    const fds = openFdCount();
    const owned = resourceStats().ownedFds;
    const rounds = 5;
    const [first, second] = await Promise.all([
      runWorker('drive-vm.mjs', { group: GROUP_TESTDEV, liobn: 0x80000000n, rounds }),
      runWorker('drive-vm.mjs', { group: GROUP_EDU, liobn: 0x80000000n, rounds }),
    ]);
    for (const [worker, group] of [[first, GROUP_TESTDEV], [second, GROUP_EDU]]) {
      assert.equal(worker.code, 0);
      assert.deepEqual(worker.messages, [{ group, reads: 2 * rounds, ownedFds: 0 }]);
    }
    assert.equal(resourceStats().ownedFds, owned); // each worker has its own fd table
    assert.ok(openFdCount() <= fds, `open fds ${fds} -> ${openFdCount()}`); // (the previous test's pipes may still have been closing)
  });

  for (const delay of [0, 40, 250]) it(`a worker terminated ${delay} ms into its sync and async calls (thread-pool work in flight) does not crash the process and releases everything`, NEEDS_VFIO_GROUPS, async () => {
    const fds = openFdCount();
    const owned = resourceStats().ownedFds;
    const { code, messages } = await runWorker('busy-until-terminated.mjs', {}, { terminateAfter: delay });
    assert.equal(code, 1); // terminated
    assert.deepEqual(messages, [{ started: true, linked: '80000000' }]);
    assert.equal(resourceStats().ownedFds, owned);
    // The environment's fds are closed at teardown; thread-pool work closes its duplicates when done.
    await eventually(() => openFdCount() === fds, 'the worker\'s fds being closed');
    await eventually(() => {
      try {
        VfioGroup.open(GROUP_TESTDEV).close(); // the linkage's group, released with the worker's KVM-VFIO device
        VfioGroup.open(GROUP_EDU).close();
        return true;
      } catch {
        return false;
      }
    }, 'groups 1 and 2 becoming free');
  });
});
