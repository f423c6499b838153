// `kvm-vfio-spapr doctor` on a machine without KVM or VFIO: clear 'not available because' lines,
// valid JSON, exit code 0.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probe, verdictLine } from '../dist/index.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hasKvm = existsSync('/dev/kvm');

describe.skipIf(hasKvm)('doctor without /dev/kvm', () => {
  it('probe() says acceleration is not available and why', () => {
    const report = probe();
    expect(report.verdict.available).toBe(false);
    expect(report.verdict.reasons.some((reason) => reason.includes('/dev/kvm'))).toBe(true);
    expect(verdictLine(report)).toMatch(/^in-kernel TCE acceleration: not available because \/dev\/kvm cannot be used: ENOENT/);
  });

  it('prints a table ending with the verdict, exit 0', () => {
    const child = spawnSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout).toMatch(/^in-kernel TCE acceleration: not available because .*ENOENT/m);
    expect(child.stdout).toContain('/dev/vfio/vfio');
  });

  it('prints valid JSON with --json, exit 0', () => {
    const child = spawnSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    const report = JSON.parse(child.stdout);
    expect(report.verdict.available).toBe(false);
    expect(report.kvm.open).toBe(false);
    expect(report.verdict.reasons.length).toBeGreaterThan(0);
  });

  it('exits 2 on bad usage', () => {
    const child = spawnSync(process.execPath, [cli, 'doktor'], { encoding: 'utf8' });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain('usage: kvm-vfio-spapr doctor [--json]');
  });
});
