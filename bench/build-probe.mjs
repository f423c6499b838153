#!/usr/bin/env node
// Builds the benchmarks' probe addon (bench/binding.gyp: bench/native/probe.cc and the few library
// sources it links) into .cache/bench-probe/<platform>-<arch>/bench_probe.node, with the root's
// node-gyp against this machine's Node headers; linux-ppc64 is cross-built with Debian's
// powerpc64le-linux-gnu toolchain for the emulated POWER host. Each target builds in a staged copy
// under .cache/bench-probe/, so neither build/ nor bench/ get build output. Skips a build that is
// newer than every source.
//
// Usage: node bench/build-probe.mjs [linux-x64] [linux-ppc64]   (default: this machine's target)
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypScript, nodeHeadersDir } from '../scripts/node-toolchain.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const CROSS_PREFIX = 'powerpc64le-linux-gnu-';
const CROSS_ENV = { CC: `${CROSS_PREFIX}gcc`, CXX: `${CROSS_PREFIX}g++`, LINK: `${CROSS_PREFIX}g++`, AR: `${CROSS_PREFIX}ar`, CC_host: 'gcc', CXX_host: 'g++' };
const TARGETS = { 'linux-x64': { arch: 'x64', env: {} }, 'linux-ppc64': { arch: 'ppc64', env: CROSS_ENV } };

/** Where the probe for `target` lives once built. */
export function probePath(target = `${process.platform}-${process.arch}`) {
  return join(root, '.cache', 'bench-probe', target, 'bench_probe.node');
}

function sources() {
  const native = readdirSync(join(root, 'native')).filter((name) => /\.(cc|h)$/.test(name)).map((name) => join(root, 'native', name));
  return [...native, join(benchDir, 'binding.gyp'), join(benchDir, 'native', 'probe.cc')];
}

function upToDate(file) {
  if (!existsSync(file)) return false;
  const built = statSync(file).mtimeMs;
  return sources().every((source) => statSync(source).mtimeMs <= built);
}

/** bench/ and native/ as node-gyp sees them, with the root's node_modules for node-addon-api. */
function stage(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bench'), { recursive: true });
  cpSync(join(root, 'native'), join(dir, 'native'), { recursive: true });
  cpSync(join(benchDir, 'native'), join(dir, 'bench', 'native'), { recursive: true });
  copyFileSync(join(benchDir, 'binding.gyp'), join(dir, 'bench', 'binding.gyp'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
}

/** Builds the probe for `target` unless it is up to date; returns its path. Build output goes to stderr. */
export function buildProbe(target = `${process.platform}-${process.arch}`) {
  const spec = TARGETS[target];
  if (!spec) throw new Error(`bench probe: unknown target '${target}' (known: ${Object.keys(TARGETS).join(', ')})`);
  const out = probePath(target);
  if (upToDate(out)) return out;
  const dir = join(root, '.cache', 'bench-probe', `stage-${target}`);
  stage(dir);
  const args = [nodeGypScript(), 'rebuild', `--arch=${spec.arch}`, `--nodedir=${nodeHeadersDir()}`];
  const env = { JOBS: 'max', ...process.env, ...spec.env };
  const result = spawnSync(process.execPath, args, { cwd: join(dir, 'bench'), env, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`bench probe: node-gyp failed for ${target} (exit ${result.status}); its output is above`);
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(join(dir, 'bench', 'build', 'Release', 'bench_probe.node'), out);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const requested = process.argv.slice(2);
  for (const target of requested.length > 0 ? requested : [undefined]) console.error(`bench probe: ${buildProbe(target)}`);
}
