// Property-based fuzzing of every public function that runs on this machine (test/fuzz/): a short,
// fixed-seed run in `npm test`; `npm run fuzz` runs 100,000 calls or more. KVM_VFIO_SPAPR_FUZZ_SECONDS
// ends a run after that long even if the count is not reached (progress goes to standard error).
import { describe, expect, it } from 'vitest';
import { fuzz } from './fuzz/harness.mjs';
import { makeX86KvmWorld, powerTargets } from './fuzz/power-targets.mjs';
import { hostTargets, makeHostWorld } from './fuzz/targets.mjs';
import { x86KvmUnavailable } from './helpers.js';

const calls = Number(process.env.KVM_VFIO_SPAPR_FUZZ_CALLS ?? 3000);
const seed = Number(process.env.KVM_VFIO_SPAPR_FUZZ_SEED ?? 5);
const seconds = process.env.KVM_VFIO_SPAPR_FUZZ_SECONDS ? Number(process.env.KVM_VFIO_SPAPR_FUZZ_SECONDS) : undefined;
const size = `${calls} calls${seconds === undefined ? '' : ` or ${seconds} s`}`;
const kvmUnavailable = await x86KvmUnavailable();

/** The run made its calls, and each kind of outcome happened: done, refused as an argument, kernel error, closed. */
function expectEveryOutcome(stats: ReturnType<typeof fuzz>) {
  if (seconds === undefined) expect(stats.calls).toBeGreaterThanOrEqual(calls);
  else expect(stats.calls).toBeGreaterThan(0);
  for (const outcome of ['argument', 'none', 'kernel', 'closed']) expect(stats.outcomes[outcome], outcome).toBeGreaterThan(0);
}

describe('fuzzing the public API (fast-check)', () => {
  it(`${size}, seed ${seed}: every call succeeds or is refused cleanly, with no syscall for a bad argument`, () => {
    const stats = fuzz({ targets: hostTargets(), makeWorld: makeHostWorld, calls, seconds, seed });
    console.log(`fuzz: ${stats.calls} calls in ${stats.runs} runs, ${stats.seconds.toFixed(1)} s (seed ${seed}); outcomes ${JSON.stringify(stats.outcomes)}; codes ${JSON.stringify(stats.codes)}`);
    expectEveryOutcome(stats);
  }, 600_000);

  it.skipIf(kvmUnavailable !== undefined)(`${size}, seed ${seed}, on this x86 host's real /dev/kvm: the KVM targets, and the POWER-only calls meeting x86's answers${kvmUnavailable ? ` — ${kvmUnavailable}` : ''}`, () => {
    const stats = fuzz({ targets: powerTargets(), makeWorld: makeX86KvmWorld, calls, seconds, seed, label: 'fuzz (x86 KVM)' });
    console.log(`fuzz (x86 KVM): ${stats.calls} calls in ${stats.runs} runs, ${stats.seconds.toFixed(1)} s (seed ${seed}); outcomes ${JSON.stringify(stats.outcomes)}; codes ${JSON.stringify(stats.codes)}`);
    expectEveryOutcome(stats);
  }, 600_000);
});
