// Permissions on this machine, as an unprivileged user (uid/gid 65534, needs root to spawn): opening
// a node without read-write access is a real EACCES with its hint, and probe() / doctor say who may
// open the node and what to change. A device node is not needed for that: the library opens
// /dev/kvm like any path (O_RDWR), so a root-only file stands in for it.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let dir = '';
let rootOnly = '';
let indexUrl = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-perm-'));
  chmodSync(dir, 0o755);
  rootOnly = join(dir, 'kvm');
  writeFileSync(rootOnly, '');
  chmodSync(rootOnly, 0o600);
  // uid 65534 may not be able to enter the checkout (a clone under a 0700 directory, as mktemp -d
  // makes): the child loads a copy of the built package from this world-readable folder.
  const staged = join(dir, 'package');
  for (const part of ['package.json', 'dist', 'build/Release', 'prebuilds']) {
    if (existsSync(join(packageRoot, part))) cpSync(join(packageRoot, part), join(staged, part), { recursive: true });
  }
  indexUrl = pathToFileURL(join(staged, 'dist', 'index.js')).href;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function asNobody(source: string) {
  const env = { ...process.env };
  delete env.LD_PRELOAD; // not inherited across setuid anyway; the ASan suite's addon needs it, so use the normal one
  delete env.KVM_VFIO_SPAPR_ADDON;
  return spawnSync(process.execPath, ['--input-type=module', '-e', source], { uid: NOBODY, gid: NOBODY, env, encoding: 'utf8' });
}

describe.skipIf(!isRoot)('as an unprivileged user (uid 65534; skipped when this process is not root, which spawning one needs)', () => {
  it('opening a node without read-write access is EACCES, with the hint for that object', () => {
    const run = asNobody(`
      const { Kvm, VfioContainer, VfioGroup } = await import(${JSON.stringify(indexUrl)});
      const out = {};
      for (const [name, open] of [['kvm', () => Kvm.open(${JSON.stringify(rootOnly)})], ['container', () => VfioContainer.open(${JSON.stringify(rootOnly)})], ['group', () => VfioGroup.open(${JSON.stringify(rootOnly)})]]) {
        try { open(); out[name] = 'opened'; } catch (e) { out[name] = { code: e.code, syscall: e.syscall, hint: e.hint }; }
      }
      console.log(JSON.stringify(out));`);
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout);
    expect(out.kvm).toMatchObject({ code: 'EACCES', syscall: 'open' });
    expect(out.kvm.hint).toContain('add the user to the group that owns it');
    expect(out.container).toMatchObject({ code: 'EACCES' });
    expect(out.container.hint).toContain('/dev/vfio/vfio');
    expect(out.group).toMatchObject({ code: 'EACCES' });
    expect(out.group.hint).toContain('chown it to the VMM user');
  });

  it('probe() and doctor say who may open the node and what to change', () => {
    const run = asNobody(`
      const { probe, verdictLine } = await import(${JSON.stringify(indexUrl)});
      console.log(verdictLine(probe({ kvmPath: ${JSON.stringify(rootOnly)} })));`);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`${rootOnly} cannot be used: EACCES`);
    expect(run.stdout).toContain(`${rootOnly} is rw------- root:root and this process is uid 65534 (nobody), gid 65534`);
    expect(run.stdout).toContain('udev rule');
  });
});
