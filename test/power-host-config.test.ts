// scripts/power-host/config.sh, the one place that pins the emulated POWER host: each kernel × machine
// gets its own results directory, and a name it does not know stops every script with EX_USAGE (64).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Sources config.sh in a fresh bash with these variables; prints RESULTS_RELATIVE and KERNEL_VERSION. */
function sourceConfig(env: Record<string, string>) {
  const result = spawnSync('bash', ['-c', '. scripts/power-host/config.sh && echo "$RESULTS_RELATIVE $KERNEL_VERSION"'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'], // bash reads ~/.bashrc when its stdin looks like a network connection
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

describe('scripts/power-host/config.sh', () => {
  it.each([
    [{}, '.cache/power-host/results 6.12.95+deb12-powerpc64le'],
    [{ POWER_HOST_MACHINE: 'powernv9' }, '.cache/power-host/results-powernv9 6.12.95+deb12-powerpc64le'],
    [{ POWER_HOST_KERNEL: '6.1' }, '.cache/power-host/kernels/6.1/results 6.1.0-50-powerpc64le'],
    [{ POWER_HOST_KERNEL: 'trixie' }, '.cache/power-host/kernels/trixie/results 6.12.107+deb13-powerpc64le'],
    [{ POWER_HOST_KERNEL: 'sid', POWER_HOST_MACHINE: 'powernv9' }, '.cache/power-host/kernels/sid/results-powernv9 7.2.13+deb14-powerpc64le'],
  ])('%o: results in their own directory', (env, expected) => {
    expect(sourceConfig(env)).toEqual({ status: 0, stdout: expected, stderr: '' });
  });

  it.each([
    [{ POWER_HOST_MACHINE: 'powernv10' }, 'POWER_HOST_MACHINE=powernv10 is not one of: pseries powernv9'],
    [{ POWER_HOST_KERNEL: '5.15' }, 'POWER_HOST_KERNEL=5.15 is not one of: 6.12 trixie 6.1 sid'],
  ])('%o: refused with exit 64 and the names it knows', (env, message) => {
    expect(sourceConfig(env)).toEqual({ status: 64, stdout: '', stderr: message });
  });
});
