// `kvm-vfio-spapr doctor` and probe() on x86 machines, which never offer in-kernel TCE acceleration:
// clear 'not available because' lines and valid JSON, exit code 0. A machine without KVM is
// imitated with paths that do not exist; the CLI runs against what this machine really has (with a
// usable x86 /dev/kvm the reasons are the missing capabilities, without one the ENOENT/EACCES).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { probe, verdictLine } from '../dist/index.js';
import { x86KvmUnavailable } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const kvmUnavailable = await x86KvmUnavailable();
const VERDICT = /^in-kernel TCE acceleration: not available because /;

describe('doctor on a machine without KVM or VFIO (paths that do not exist)', () => {
  const options = { kvmPath: '/nonexistent/kvm', vfioPath: '/nonexistent/vfio/vfio', sysfs: mkdtempSync(join(tmpdir(), 'kvs-sysfs-')) };

  it('probe() says acceleration is not available and why, for KVM and for VFIO', () => {
    const report = probe(options);
    expect(report.verdict.available).toBe(false);
    expect(report.kvm).toMatchObject({ path: '/nonexistent/kvm', open: false });
    expect(report.vfio.container.open).toBe(false);
    expect(report.vfio.groups).toEqual([]);
    expect(report.tcePath).toBe('none');
    expect(report.verdict.reasons).toEqual([
      expect.stringMatching(/^\/nonexistent\/kvm cannot be used: ENOENT/),
      expect.stringMatching(/^\/nonexistent\/vfio\/vfio cannot be used: ENOENT/),
    ]);
    expect(verdictLine(report)).toMatch(/^in-kernel TCE acceleration: not available because \/nonexistent\/kvm cannot be used: ENOENT/);
  });
});

describe('`kvm-vfio-spapr doctor` on this machine', () => {
  it(`prints a table ending with the verdict, exit 0 (${kvmUnavailable ? 'no usable /dev/kvm' : 'x86 /dev/kvm'})`, () => {
    const child = spawnSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    const lines = child.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(VERDICT);
    expect(child.stdout).toContain('/dev/vfio/vfio');
    if (kvmUnavailable) {
      expect(lines.at(-1)).toMatch(/\/dev\/kvm cannot be used/);
    } else {
      expect(child.stdout).toMatch(/^ {2}\/dev\/kvm +open, API 12$/m);
      expect(child.stdout).toMatch(/^ {2}KVM_CAP_SPAPR_TCE_VFIO +0 \/ 0$/m);
      expect(child.stdout).toMatch(/^ {2}SET_SPAPR_TCE attribute +no$/m);
      expect(lines.at(-1)).toContain('KVM_CAP_SPAPR_TCE_VFIO is 0');
    }
  });

  it('prints valid JSON with --json, exit 0', () => {
    const child = spawnSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    const report = JSON.parse(child.stdout);
    expect(report.verdict.available).toBe(false);
    expect(report.verdict.reasons.length).toBeGreaterThan(0);
    expect(report.kvm.open).toBe(kvmUnavailable === undefined);
    if (!kvmUnavailable) {
      expect(report.capabilities.vm.KVM_CAP_SPAPR_TCE_VFIO).toBe(0);
      expect(report.kvmVfio).toMatchObject({ device: true, setSpaprTce: false });
      expect(report.hypercalls.map((call: { inKernel: boolean }) => call.inKernel)).toEqual([false, false, false, false]);
    }
  });

  it('exits 2 on bad usage', () => {
    const child = spawnSync(process.execPath, [cli, 'doktor'], { encoding: 'utf8' });
    expect(child.status).toBe(2);
    expect(child.stderr).toContain('usage: kvm-vfio-spapr doctor [--json]');
  });
});
