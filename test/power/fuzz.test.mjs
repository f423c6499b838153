// Property-based fuzzing of the kernel objects against the real 6.12 kernel (test/fuzz/): every call
// succeeds or is refused cleanly, a bad argument never reaches the kernel, fds are all released, and
// the kernel never WARNs. `npm test` runs a short fixed-seed run; `npm run fuzz` a long one
// (KVM_VFIO_SPAPR_FUZZ_CALLS, KVM_VFIO_SPAPR_FUZZ_SEED; KVM_VFIO_SPAPR_FUZZ_SECONDS ends it after that
// long even if the count is not reached). Progress lines go to standard error every 5 s.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VfioGroup } from '../../dist/index.js';
import { fuzz } from '../fuzz/harness.mjs';
import { makePowerWorld, powerTargets } from '../fuzz/power-targets.mjs';
import { NEEDS_VFIO_GROUPS, EXPECTED, GROUP_EDU, GROUP_TESTDEV, expectKvmError, openFds } from './helpers.mjs';

const calls = Number(process.env.KVM_VFIO_SPAPR_FUZZ_CALLS ?? 1500);
const seed = Number(process.env.KVM_VFIO_SPAPR_FUZZ_SEED ?? 5);
const seconds = process.env.KVM_VFIO_SPAPR_FUZZ_SECONDS ? Number(process.env.KVM_VFIO_SPAPR_FUZZ_SECONDS) : undefined;
const size = `${calls} calls${seconds === undefined ? '' : ` or ${seconds} s`}`;

// Each run's world opens group 1's device, which PowerNV resets through its root port's bus (about
// 10 s an open and close under TCG, leaks.test.mjs): there, fewer and longer runs.
const CALLS_PER_RUN = EXPECTED.slowDeviceResets ? 150 : 50;

describe('fuzzing the kernel objects (fast-check)', NEEDS_VFIO_GROUPS, () => {
  it(`${size}, seed ${seed}: refused cleanly or done, no syscall for a bad argument, nothing left open, no kernel WARN`, () => {
    const stats = fuzz({ targets: powerTargets(), makeWorld: makePowerWorld, calls, seconds, seed, callsPerRun: CALLS_PER_RUN, label: 'fuzz (POWER)' });
    console.log(`# fuzz (POWER): ${stats.calls} calls in ${stats.runs} runs, ${stats.seconds.toFixed(1)} s, ${(stats.calls / stats.seconds).toFixed(1)} calls/s (seed ${seed}); outcomes ${JSON.stringify(stats.outcomes)}; codes ${JSON.stringify(stats.codes)}`);
    assert.ok(seconds === undefined ? stats.calls >= calls : stats.calls > 0);
    for (const outcome of ['none', 'argument', 'kernel', 'closed']) assert.ok(stats.outcomes[outcome] > 0, `no call ended '${outcome}'`);
  });

  it('a world that fails half-made is disposed: group 1 held elsewhere is EBUSY, and the edu linkage made before it is gone (its group opens again, no fd left)', () => {
    const before = openFds();
    const holder = VfioGroup.open(GROUP_TESTDEV);
    try {
      expectKvmError(() => makePowerWorld(), { code: 'EBUSY', request: 'open' });
    } finally {
      holder.close();
    }
    assert.deepEqual(openFds(), before);
    VfioGroup.open(GROUP_EDU).close();
  });
});
