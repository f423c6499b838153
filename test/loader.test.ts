// The loader: prebuilds/<platform>-<arch>/, then build/Release, with an environment override;
// when nothing loads, one error lists every path tried.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADDON_OVERRIDE_ENV, addonCandidates } from '../dist/index.js';

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

describe('addon loader', () => {
  it('tries the newer of prebuilds/linux-<arch>/ and build/Release first, then build/Debug', () => {
    const override = process.env[ADDON_OVERRIDE_ENV]; // set by npm run test:asan
    delete process.env[ADDON_OVERRIDE_ENV];
    const candidates = addonCandidates();
    if (override !== undefined) process.env[ADDON_OVERRIDE_ENV] = override;
    const prebuild = candidates.findIndex((path) => path.includes(`/prebuilds/linux-${process.arch}/`));
    const release = candidates.findIndex((path) => path.endsWith('/build/Release/kvm_vfio_spapr.node'));
    expect(prebuild).toBeGreaterThanOrEqual(0);
    expect(release).toBeGreaterThanOrEqual(0);
    const mtime = (path: string) => (existsSync(path) ? statSync(path).mtimeMs : -1);
    const [first, second] = prebuild < release ? [candidates[prebuild]!, candidates[release]!] : [candidates[release]!, candidates[prebuild]!];
    expect(mtime(first)).toBeGreaterThanOrEqual(mtime(second));
    expect(candidates.at(-1)).toMatch(/\/build\/Debug\/kvm_vfio_spapr\.node$/);
  });

  it('honours the override and lists what it tried when nothing loads', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(indexUrl)})`], {
      env: { ...process.env, [ADDON_OVERRIDE_ENV]: '/nonexistent/addon.node' },
      encoding: 'utf8',
    });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toContain('no native addon could be loaded for linux-x64');
    expect(child.stderr).toContain('/nonexistent/addon.node: not found');
    expect(child.stderr).toContain('ERR_KVM_ADDON_NOT_FOUND');
  });

  it('reports a file that exists but is not an addon, with the loader message', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(indexUrl)})`], {
      env: { ...process.env, [ADDON_OVERRIDE_ENV]: '/etc/hostname' },
      encoding: 'utf8',
    });
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/\/etc\/hostname: .*(invalid ELF header|file too short|not a valid)/);
  });
});
