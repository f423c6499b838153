// `npm pack --json` is machine-readable: the lifecycle scripts it runs (prepack: tsc, TypeDoc;
// prepare: tsc) print nothing on standard output, so its whole standard output parses as JSON.
// Both packs run in a staged copy of the package (prepack empties dist/, which the other test
// files load), and the packed file list carries no benchmark code and no source maps.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const STAGED = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp', 'tsconfig.json', 'tsconfig.examples.json', 'typedoc.json', 'lib', 'examples', 'native', 'scripts', 'prebuilds'];
const PREBUILDS = ['linux-x64', 'linux-ppc64'].map((target) => join(root, 'prebuilds', target, 'kvm-vfio-spapr.node'));
const FORBIDDEN = [/bench/, /^native\/bench_probe\.cc$/, /^dist\/internal\//, /\.map$/, /^(test|\.cache|build|lib|examples)\//];

interface PackEntry {
  filename: string;
  files: { path: string }[];
}

/** The environment without npm's lifecycle variables (this test may run under `npm test`). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== 'INIT_CWD' && !key.startsWith('KVM_VFIO_SPAPR_')));
}

function npmPack(cwd: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync('npm', ['pack', '--json', ...args], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 240_000 });
}

/** Standard output parsed whole: it must be nothing but npm's JSON. */
function parsed(child: SpawnSyncReturns<string>): PackEntry[] {
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout) as PackEntry[];
}

function forbiddenFiles(entry: PackEntry): string[] {
  return entry.files.map((file) => file.path).filter((path) => FORBIDDEN.some((pattern) => pattern.test(path)));
}

const missing = PREBUILDS.filter((file) => !existsSync(file));
const reason = `skipped: prepack needs both prebuilds and ${missing.join(', ')} is missing (npm run prebuild makes them)`;
if (missing.length > 0) console.warn(reason);

describe.skipIf(missing.length > 0)(`npm pack --json, lifecycle scripts included${missing.length > 0 ? ` — ${reason}` : ''}`, () => {
  let work: string;
  let stage: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-pack-'));
    stage = join(work, 'package');
    mkdirSync(stage);
    for (const entry of STAGED) cpSync(join(root, entry), join(stage, entry), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm pack --dry-run --json prints only JSON, and the file list holds no bench probe and no source maps', () => {
    const [entry] = parsed(npmPack(stage, ['--dry-run']));
    expect(entry!.files.map((file) => file.path)).toContain('dist/index.js');
    expect(forbiddenFiles(entry!)).toEqual([]);
  }, 300_000);

  it('npm pack --json into a folder prints only JSON, and writes the tarball it names', () => {
    const destination = join(work, 'out');
    mkdirSync(destination);
    const [entry] = parsed(npmPack(stage, ['--pack-destination', destination]));
    expect(existsSync(join(destination, entry!.filename))).toBe(true);
    expect(forbiddenFiles(entry!)).toEqual([]);
  }, 300_000);
});
