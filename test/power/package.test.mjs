// The packed tarball on the emulated POWER host, as a user without npm or a compiler would get it:
// unpacked into a clean folder, it loads its linux-ppc64 prebuild, `doctor` says acceleration is
// available, and the example attach flow runs. The host packs it into .cache/pack/ (scripts/test.mjs).
// Each guest Node start costs seconds, so this spawns only two processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GROUP_TESTDEV, NEEDS_VFIO_GROUPS } from './helpers.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tarball = join(root, '.cache', 'pack', `${manifest.name}-${manifest.version}.tgz`);
const skip = existsSync(tarball) ? false : `no ${tarball}: the host packs it (npm test; or npm run prebuild && npm pack --pack-destination .cache/pack)`;
if (skip) console.log(`# skipped: ${skip}`);

/** Reports, at exit, every .node file the process has mapped (loaded with `node --import`). */
const LOADED_ADDONS_HOOK = `
import { readFileSync } from 'node:fs';
process.on('exit', () => {
  const paths = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((line) => line.split(/\\s+/)[5]);
  const addons = [...new Set(paths.filter((path) => path && path.endsWith('.node')))];
  process.stderr.write('loaded addons: ' + JSON.stringify(addons) + '\\n');
});
`;

function loadedAddons(stderr) {
  const line = stderr.split('\n').find((l) => l.startsWith('loaded addons: '));
  assert.ok(line, `the process did not report its addons; stderr:\n${stderr}`);
  return JSON.parse(line.slice('loaded addons: '.length));
}

/** Whether version a.b.c is at least the `>=x.y.z` minimum of package.json engines. */
function satisfiesMinimum(version, range) {
  const minimum = range.replace(/^>=/, '').split('.').map(Number);
  const actual = version.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) if (actual[i] !== minimum[i]) return actual[i] > minimum[i];
  return true;
}

describe('the packed tarball, unpacked in a clean folder (no npm, no compiler)', { skip }, () => {
  let work;
  let pkg;
  let hook;
  let env;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-package-'));
    const untar = spawnSync('busybox', ['tar', '-xzf', tarball, '-C', work], { encoding: 'utf8' });
    assert.equal(untar.status, 0, untar.stderr);
    pkg = join(work, 'package');
    hook = join(work, 'loaded-addons.mjs');
    writeFileSync(hook, LOADED_ADDONS_HOOK);
    env = { ...process.env };
    delete env.KVM_VFIO_SPAPR_ADDON;
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function runFromPackage(args) {
    return spawnSync(process.execPath, ['--import', pathToFileURL(hook).href, ...args], { cwd: pkg, env, encoding: 'utf8' });
  }

  it('holds the linux-ppc64 prebuild, nothing built or installed, and engines admits this Node', () => {
    assert.ok(existsSync(join(pkg, 'prebuilds', 'linux-ppc64', 'kvm-vfio-spapr.node')));
    assert.equal(existsSync(join(pkg, 'build')), false);
    assert.equal(existsSync(join(pkg, 'node_modules')), false);
    const engines = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).engines.node;
    assert.ok(satisfiesMinimum(process.versions.node, engines), `Node ${process.versions.node} vs engines ${engines}`);
  });

  it('`kvm-vfio-spapr doctor` runs on its linux-ppc64 prebuild: acceleration available', NEEDS_VFIO_GROUPS, () => {
    const doctor = runFromPackage(['dist/cli.js', 'doctor']);
    assert.equal(doctor.status, 0, doctor.stderr);
    assert.match(doctor.stdout, /^in-kernel TCE acceleration: available$/m);
    assert.deepEqual(loadedAddons(doctor.stderr), [join(pkg, 'prebuilds', 'linux-ppc64', 'kvm-vfio-spapr.node')]);
  });

  it(`the example attach flow (examples/attach-vfio-group.ts) links group ${GROUP_TESTDEV} and detaches`, NEEDS_VFIO_GROUPS, () => {
    const example = runFromPackage(['dist/examples/attach-vfio-group.js', String(GROUP_TESTDEV)]);
    assert.equal(example.status, 0, `${example.stdout}\n${example.stderr}`);
    assert.match(example.stdout, new RegExp(`linkage: liobn 0x80000000 ↔ vfio group ${GROUP_TESTDEV}$`, 'm'));
    assert.match(example.stdout, /detach \(unlink, remove window, unregister, unset\)/);
    assert.match(example.stdout, /^done$/m);
    assert.deepEqual(loadedAddons(example.stderr), [join(pkg, 'prebuilds', 'linux-ppc64', 'kvm-vfio-spapr.node')]);
  });
});
