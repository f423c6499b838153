#!/usr/bin/env node
// Makes the N-API prebuilds that `npm pack` ships, with prebuildify:
//   prebuilds/linux-x64/kvm-vfio-spapr.node     built natively
//   prebuilds/linux-ppc64/kvm-vfio-spapr.node   cross-built with Debian's powerpc64le-linux-gnu toolchain
// (process.arch is 'ppc64' on ppc64le). One file per platform serves every Node version (NAPI_VERSION 8).
//
// Usage: node scripts/prebuild.mjs [linux-x64] [linux-ppc64]   (default: both)
// `npm run prebuild` runs this for linux-x64 and scripts/build-ppc64.sh for linux-ppc64 (that script
// installs the cross compiler first). Each build runs in a staged copy under .cache/prebuild/<target>/, so
// a developer's build/ is left alone, and compiles against this machine's Node headers (never downloaded).
// Exit code 3: the cross compiler is missing.
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeHeadersDir } from './node-toolchain.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const PACKAGE_NAME = 'kvm-vfio-spapr';
const CROSS_PREFIX = 'powerpc64le-linux-gnu-';
const EXIT_NO_CROSS_COMPILER = 3;

/** ELF e_machine numbers, to check that a build really is for its target. */
const EM_PPC64 = 21;
const EM_X86_64 = 62;

const TARGETS = {
  'linux-x64': { arch: 'x64', machine: EM_X86_64, env: {}, strip: 'strip' },
  'linux-ppc64': {
    arch: 'ppc64',
    machine: EM_PPC64,
    env: {
      CC: `${CROSS_PREFIX}gcc`,
      CXX: `${CROSS_PREFIX}g++`,
      LINK: `${CROSS_PREFIX}g++`,
      AR: `${CROSS_PREFIX}ar`,
      CC_host: 'gcc',
      CXX_host: 'g++',
    },
    strip: `${CROSS_PREFIX}strip`,
    crossCompiler: `${CROSS_PREFIX}g++`,
  },
};

function fail(message, code = 1) {
  console.error(`prebuild: ${message}`);
  process.exit(code);
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v "$1" >/dev/null`, 'sh', command]).status === 0;
}

/** A copy of what node-gyp needs, so prebuildify's `node-gyp rebuild` cannot touch the real build/. */
function stageSources(stage) {
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(join(root, 'native'), join(stage, 'native'), { recursive: true });
  cpSync(join(root, 'binding.gyp'), join(stage, 'binding.gyp'));
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
}

function runPrebuildify(name, target, stage) {
  const args = [
    join(root, 'node_modules', 'prebuildify', 'bin.js'),
    '--napi',
    `--target=${process.versions.node}`,
    `--arch=${target.arch}`,
    '--platform=linux',
    `--name=${PACKAGE_NAME}`,
    '--strip',
    `--strip-bin=${target.strip}`,
    `--node-gyp=${join(root, 'node_modules', '.bin', 'node-gyp')}`,
    `--out=${root}`,
    `--cwd=${stage}`,
  ];
  // JOBS: node-gyp runs make with one job per CPU.
  const env = { JOBS: 'max', ...process.env, ...target.env, npm_config_nodedir: nodeHeadersDir() };
  const logPath = join(stage, 'build.log');
  const log = openSync(logPath, 'w');
  const result = spawnSync(process.execPath, args, { cwd: stage, env, stdio: ['ignore', log, log] });
  closeSync(log);
  if (result.status !== 0) {
    console.error(readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n'));
    fail(`prebuildify failed for ${name} (full log: ${logPath})`);
  }
}

/** Checks the ELF header: 64-bit, little-endian, and the target's machine. */
function checkElf(file, target) {
  const header = readFileSync(file).subarray(0, 20);
  const isElf = header.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  const is64LittleEndian = header[4] === 2 && header[5] === 1;
  const machine = header.readUInt16LE(18);
  if (!isElf || !is64LittleEndian || machine !== target.machine) {
    fail(`${file} is not a 64-bit little-endian ELF for e_machine ${target.machine} (got e_machine ${machine})`);
  }
}

function prebuild(name) {
  const target = TARGETS[name];
  if (!target) fail(`unknown target '${name}' (known: ${Object.keys(TARGETS).join(', ')})`, 64);
  if (target.crossCompiler && !onPath(target.crossCompiler)) {
    fail(`${target.crossCompiler} is missing; scripts/build-ppc64.sh installs it (as root)`, EXIT_NO_CROSS_COMPILER);
  }
  const out = join(root, 'prebuilds', name);
  rmSync(out, { recursive: true, force: true });
  const stage = join(root, '.cache', 'prebuild', name);
  stageSources(stage);
  runPrebuildify(name, target, stage);
  const files = existsSync(out) ? readdirSync(out).filter((file) => file.endsWith('.node')) : [];
  if (files.length !== 1) fail(`expected one .node file in ${out}, found ${files.length}`);
  const file = join(out, files[0]);
  checkElf(file, target);
  console.log(`prebuild: ${name} → ${file}`);
}

const requested = process.argv.slice(2);
for (const name of requested.length > 0 ? requested : Object.keys(TARGETS)) prebuild(name);
