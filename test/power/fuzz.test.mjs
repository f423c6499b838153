// Property-based fuzzing of the kernel objects against the real 6.12 kernel (test/fuzz/): every call
// succeeds or is refused cleanly, a bad argument never reaches the kernel, fds are all released, and
// the kernel never WARNs. `npm test` runs a short fixed-seed run; `npm run fuzz` a long one
// (KVM_VFIO_SPAPR_FUZZ_CALLS, KVM_VFIO_SPAPR_FUZZ_SEED).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuzz } from '../fuzz/harness.mjs';
import { makePowerWorld, powerTargets } from '../fuzz/power-targets.mjs';

const calls = Number(process.env.KVM_VFIO_SPAPR_FUZZ_CALLS ?? 1500);
const seed = Number(process.env.KVM_VFIO_SPAPR_FUZZ_SEED ?? 5);

describe('fuzzing the kernel objects (fast-check)', () => {
  it(`${calls} calls, seed ${seed}: refused cleanly or done, no syscall for a bad argument, nothing left open, no kernel WARN`, () => {
    const started = Date.now();
    const stats = fuzz({ targets: powerTargets(), makeWorld: makePowerWorld, calls, seed, callsPerRun: 50 });
    const seconds = (Date.now() - started) / 1000;
    console.log(`# fuzz (POWER): ${stats.calls} calls in ${stats.runs} runs, ${seconds.toFixed(1)} s (seed ${seed}); outcomes ${JSON.stringify(stats.outcomes)}; codes ${JSON.stringify(stats.codes)}`);
    assert.ok(stats.calls >= calls);
    for (const outcome of ['none', 'argument', 'kernel', 'closed']) assert.ok(stats.outcomes[outcome] > 0, `no call ended '${outcome}'`);
  });
});
