// The package as npm ships it. `npm pack --dry-run` holds exactly the files it should and stays
// small; the tarball that `npm test` packs into .cache/pack/ installs in an empty folder with no
// compiler on PATH (from the linux-x64 prebuild) and `npx kvm-vfio-spapr doctor` runs; forcing a
// source build as a dependency uses npm's own node-gyp and this machine's Node headers.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const tarball = join(root, '.cache', 'pack', `${manifest.name}-${manifest.version}.tgz`);
// The VMM API and kvm-vfio-spapr/spapr took the package from ~490 to ~560 KiB packed (most of it
// docs/api, 1.9 MB unpacked, and the two prebuilds): the budget catches accidental bloat, such as
// benchmark code or source maps shipped again.
const PACKED_BYTES_MAX = 640 * 1024;
const UNPACKED_BYTES_MAX = 4 * 1024 * 1024;
const VERDICT = /^in-kernel TCE acceleration: (available|not available because .+)$/m;
const BUILD_TOOLS = ['gcc', 'g++', 'cc', 'c++', 'make'];

/** Every file under `dir`, relative to the repository root. */
function filesUnder(dir: string): string[] {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** What tsc emits for lib/ and examples/: the tarball's dist/ must be exactly this (no stale files). */
function expectedDist(): string[] {
  const library = filesUnder('lib')
    .filter((file) => file.endsWith('.ts'))
    .flatMap((file) => {
      const base = file.replace(/^lib\//, 'dist/').replace(/\.ts$/, '');
      return [`${base}.js`, `${base}.d.ts`];
    });
  const examples = filesUnder('examples')
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.replace(/^examples\//, 'dist/examples/').replace(/\.ts$/, '.js'));
  return [...library, ...examples];
}

function expectedFiles(): string[] {
  return [
    'package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp',
    'scripts/install-addon.mjs', 'scripts/node-toolchain.mjs',
    ...expectedDist(),
    ...filesUnder('native').filter((file) => !file.startsWith('native/tools/')),
    ...filesUnder('prebuilds').filter((file) => file.endsWith('.node')),
    ...filesUnder('docs/api'),
  ].sort();
}

/** The environment of this process without npm's lifecycle variables (this test may run under `npm test`). */
function cleanEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD' && !key.startsWith('KVM_VFIO_SPAPR_')),
  );
  return { ...env, ...overrides };
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
}

function output(child: SpawnSyncReturns<string>): string {
  return `${child.stdout}\n${child.stderr}`;
}

function resolveOnPath(command: string, path: string): string | undefined {
  const child = spawnSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', command], { env: { PATH: path }, encoding: 'utf8' });
  return child.status === 0 ? child.stdout.trim() : undefined;
}

/** A folder holding only node, npm, npx and sh (npm runs scripts through sh): a PATH without any compiler. */
function compilerlessBin(dir: string): string {
  mkdirSync(dir);
  const npm = realpathSync(resolveOnPath('npm', process.env.PATH ?? '')!);
  const npx = realpathSync(resolveOnPath('npx', process.env.PATH ?? '')!);
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(npm, join(dir, 'npm'));
  symlinkSync(npx, join(dir, 'npx'));
  symlinkSync('/bin/sh', join(dir, 'sh'));
  return dir;
}

/** The .node files a fresh process has mapped after importing the installed package. */
function loadedAddons(app: string, env: NodeJS.ProcessEnv): string[] {
  const script =
    "await import('kvm-vfio-spapr'); const { readFileSync } = await import('node:fs');" +
    "const paths = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((line) => line.split(/\\s+/)[5]);" +
    "console.log(JSON.stringify([...new Set(paths.filter((path) => path?.endsWith('.node')))]));";
  const child = run('node', ['--input-type=module', '-e', script], app, env);
  expect(child.status, output(child)).toBe(0);
  return JSON.parse(child.stdout) as string[];
}

const packed = existsSync(join(root, 'docs', 'api', 'index.html')) && existsSync(join(root, 'dist', 'examples')) && filesUnder('prebuilds/linux-x64').length > 0;
const notPackedReason = 'skipped: no prebuild, docs/api or dist/examples here (npm test makes them: npm run prebuild, then npm pack)';
if (!packed) console.warn(notPackedReason);

describe.skipIf(!packed)(`npm pack --dry-run${packed ? '' : ` — ${notPackedReason}`}`, () => {
  const child = packed ? run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], root, cleanEnv({})) : undefined;
  const entry = child?.status === 0 ? (JSON.parse(child.stdout) as { files: { path: string }[]; size: number; unpackedSize: number }[])[0] : undefined;

  it('holds exactly dist/ (no maps), prebuilds/, native/ sources, binding.gyp, the install scripts, README, LICENSE, CHANGELOG and docs/api/', () => {
    expect(child?.status, child && output(child)).toBe(0);
    const files = entry!.files.map((file) => file.path).sort();
    expect(files).toEqual(expectedFiles());
    expect(files).toContain('prebuilds/linux-x64/kvm-vfio-spapr.node');
    expect(files).toContain('dist/examples/attach-vfio-group.js');
    expect(files).toContain('docs/api/index.html');
    expect(files.filter((file) => /^(test|bench|\.cache|build|lib|examples)\//.test(file) || file.endsWith('.map'))).toEqual([]);
  });

  const ppc64Missing = filesUnder('prebuilds/linux-ppc64').length === 0;
  it.skipIf(ppc64Missing)(`holds the linux-ppc64 prebuild${ppc64Missing ? ' — skipped: no cross compiler here (scripts/build-ppc64.sh installs it as root)' : ''}`, () => {
    expect(entry!.files.map((file) => file.path)).toContain('prebuilds/linux-ppc64/kvm-vfio-spapr.node');
  });

  it(`stays under ${PACKED_BYTES_MAX / 1024} KiB packed and ${UNPACKED_BYTES_MAX / 1024 / 1024} MiB unpacked`, () => {
    expect(entry!.size).toBeLessThan(PACKED_BYTES_MAX);
    expect(entry!.unpackedSize).toBeLessThan(UNPACKED_BYTES_MAX);
  });
});

const noTarball = !existsSync(tarball);
const noTarballReason = `skipped: no ${relative(root, tarball)} (npm test packs it: npm run prebuild && npm pack --pack-destination .cache/pack)`;
if (noTarball) console.warn(noTarballReason);

describe.skipIf(noTarball)(`the packed tarball, installed as a dependency${noTarball ? ` — ${noTarballReason}` : ''}`, () => {
  let work: string;
  let bin: string;
  let app: string;
  let installed: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-install-'));
    bin = compilerlessBin(join(work, 'bin'));
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true }\n');
    installed = join(app, 'node_modules', manifest.name);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs from the linux-x64 prebuild with no compiler on PATH, and `npx kvm-vfio-spapr doctor` runs', () => {
    for (const tool of BUILD_TOOLS) expect(resolveOnPath(tool, bin), `${tool} must not be on the test's PATH`).toBeUndefined();
    const env = cleanEnv({ PATH: bin });

    const install = run('npm', ['install', tarball, '--foreground-scripts', '--no-audit', '--no-fund'], app, env);
    expect(install.status, output(install)).toBe(0);
    const prebuild = join(installed, 'prebuilds', 'linux-x64', 'kvm-vfio-spapr.node');
    expect(install.stderr).toContain(`kvm-vfio-spapr: using prebuild ${prebuild}`);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'node-gyp'))).toBe(false);

    const doctor = run('npx', ['kvm-vfio-spapr', 'doctor'], app, env);
    expect(doctor.status, output(doctor)).toBe(0);
    expect(doctor.stdout).toMatch(VERDICT);
    expect(loadedAddons(app, env)).toEqual([prebuild]);
  });

  it('KVM_VFIO_SPAPR_BUILD_FROM_SOURCE=1 with no compiler on PATH fails and says what the build needs', () => {
    const rebuild = run('npm', ['rebuild', manifest.name, '--foreground-scripts'], app, cleanEnv({ PATH: bin, KVM_VFIO_SPAPR_BUILD_FROM_SOURCE: '1' }));
    expect(rebuild.status).not.toBe(0);
    expect(output(rebuild)).toContain('gyp ERR!');
    expect(output(rebuild)).toContain('kvm-vfio-spapr: building the native addon failed. It needs g++, make and python3');
  });

  it("KVM_VFIO_SPAPR_BUILD_FROM_SOURCE=1 builds from source with npm's node-gyp against this machine's Node headers", () => {
    const env = cleanEnv({ KVM_VFIO_SPAPR_BUILD_FROM_SOURCE: '1' });
    const rebuild = run('npm', ['rebuild', manifest.name, '--foreground-scripts'], app, env);
    expect(rebuild.status, output(rebuild)).toBe(0);
    expect(output(rebuild)).toContain(`-Dnode_root_dir=${dirname(dirname(process.execPath))}`);
    expect(output(rebuild)).toContain('gyp info ok');
    const built = join(installed, 'build', 'Release', 'kvm_vfio_spapr.node');
    expect(existsSync(built)).toBe(true);

    const withBuilt = cleanEnv({ KVM_VFIO_SPAPR_ADDON: built });
    const doctor = run('node', [join(installed, 'dist', 'cli.js'), 'doctor'], app, withBuilt);
    expect(doctor.status, output(doctor)).toBe(0);
    expect(doctor.stdout).toMatch(VERDICT);
    expect(loadedAddons(app, withBuilt)).toEqual([built]);
  }, 300_000); // a whole native build: ~30 s alone, several times that under ASan on a loaded machine
});
