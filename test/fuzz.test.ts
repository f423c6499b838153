// Property-based fuzzing of every public function that runs on this machine (test/fuzz/): a short,
// fixed-seed run in `npm test`; `npm run fuzz` runs 100,000 calls or more.
import { describe, expect, it } from 'vitest';
import { fuzz } from './fuzz/harness.mjs';
import { hostTargets, makeHostWorld } from './fuzz/targets.mjs';

const calls = Number(process.env.KVM_VFIO_SPAPR_FUZZ_CALLS ?? 3000);
const seed = Number(process.env.KVM_VFIO_SPAPR_FUZZ_SEED ?? 5);

describe('fuzzing the public API (fast-check)', () => {
  it(`${calls} calls, seed ${seed}: every call succeeds or is refused cleanly, with no syscall for a bad argument`, () => {
    const stats = fuzz({ targets: hostTargets(), makeWorld: makeHostWorld, calls, seed });
    console.log(`fuzz: ${stats.calls} calls in ${stats.runs} runs (seed ${seed}); outcomes ${JSON.stringify(stats.outcomes)}; codes ${JSON.stringify(stats.codes)}`);
    expect(stats.calls).toBeGreaterThanOrEqual(calls);
    expect(stats.outcomes.argument).toBeGreaterThan(0);
    expect(stats.outcomes.none).toBeGreaterThan(0);
    expect(stats.outcomes.kernel).toBeGreaterThan(0);
    expect(stats.outcomes.closed).toBeGreaterThan(0);
  }, 600_000);
});
