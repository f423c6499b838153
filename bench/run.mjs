#!/usr/bin/env node
// npm run bench: ns per call of a cheap real ioctl (FIONREAD on a pipe) and of the error path
// (ENOTTY: FIONREAD on /dev/null), for the in-process floor, a separate C program, this library's
// call path, koffi and ffi-napi, all in one run. Prints a table and writes bench/results.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loop, measureInterleaved, throwingLoop } from './measure.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const cacheDir = join(root, '.cache', 'bench');
const CALLS = 20_000;
const FLOOR_BATCH = 1_000;

const { requestNumbers, KvmVfioError } = await import(join(root, 'dist', 'index.js'));
const { FdProbe } = await import(join(root, 'dist', 'internal', 'bench-probe.js'));
const FIONREAD = requestNumbers.FIONREAD;

function ensurePeersInstalled() {
  if (existsSync(join(benchDir, 'node_modules', 'koffi')) && existsSync(join(benchDir, 'node_modules', 'ffi-napi'))) return undefined;
  console.error('bench: installing the FFI peers into bench/node_modules (ffi-napi with its FFI_NAPI=1 workaround)...');
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: benchDir,
    env: { ...process.env, FFI_NAPI: '1' },
    encoding: 'utf8',
  });
  return result.status === 0 ? undefined : `npm install failed: ${(result.stderr || '').trim().split('\n').slice(-2).join(' ')}`;
}

function compileCProgram() {
  mkdirSync(cacheDir, { recursive: true });
  const binary = join(cacheDir, 'ioctl_loop');
  execFileSync('gcc', ['-O2', '-o', binary, join(benchDir, 'c', 'ioctl_loop.c')]);
  return binary;
}

function runCProgram(binary, mode) {
  const samples = [];
  for (let i = 0; i < 5; i += 1) samples.push(Number(execFileSync(binary, [mode, String(CALLS), '7'], { encoding: 'utf8' })));
  return samples.sort((a, b) => a - b)[2];
}

function makeFifo(dir) {
  const path = join(dir, 'bench.fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

async function loadKoffi() {
  try {
    const { loadKoffiIoctl } = await import('./peers/koffi.mjs');
    return { peer: loadKoffiIoctl(FIONREAD) };
  } catch (error) {
    return { reason: `koffi could not load: ${error.message.split('\n')[0]}` };
  }
}

function runFfiNapi(fifoPath) {
  const child = spawnSync(process.execPath, [join(benchDir, 'peers', 'ffi-napi-child.mjs'), fifoPath, String(FIONREAD), String(CALLS / 10)], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const line = (child.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return { reason: `ffi-napi could not run: ${(child.stderr || child.error?.message || 'no output').trim().split('\n')[0]}` };
  }
}

function pureJsError() {
  const error = new Error('ioctl FIONREAD failed: errno 25');
  error.errno = -25;
  error.code = 'ENOTTY';
  error.syscall = 'ioctl';
  throw error;
}

const installProblem = ensurePeersInstalled();
const workDir = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-bench-'));
const fifoPath = makeFifo(workDir);
const fifoFd = openSync(fifoPath, 'r+');
const nullFd = openSync('/dev/null', 'r');
const pipeProbe = FdProbe.adopt(fifoFd);
const nullProbe = FdProbe.adopt(nullFd);
const koffi = installProblem ? { reason: installProblem } : await loadKoffi();

const NAMES = {
  floor: 'floor (in-process batch of 1,000), FIONREAD on a pipe',
  c: 'C program (separate process), FIONREAD on a pipe',
  lib: 'kvm-vfio-spapr call path, FIONREAD on a pipe',
  koffi: 'koffi ioctl, FIONREAD on a pipe',
  ffi: 'ffi-napi ioctl, FIONREAD on a pipe',
  errorFloor: 'floor (in-process batch of 1,000), ENOTTY on /dev/null',
  errorC: 'C program (separate process), ENOTTY on /dev/null',
  errorLib: 'kvm-vfio-spapr error path: KvmVfioError thrown and caught (ENOTTY)',
  errorLibNoStack: 'kvm-vfio-spapr error path, KvmVfioError.stackFrames = 0',
  errorKoffi: 'koffi error path: errno read, Error built in JS, thrown and caught',
  errorFfi: 'ffi-napi error path: errno read, Error built in JS, thrown and caught',
  pureJs: 'pure-JS Error created, thrown and caught (no syscall)',
};

const rows = [
  { name: NAMES.floor, calls: CALLS, run: (calls) => { for (let i = 0; i < calls / FLOOR_BATCH; i += 1) pipeProbe.floor(FLOOR_BATCH); } },
  { name: NAMES.lib, calls: CALLS, run: loop(() => pipeProbe.readableBytes()) },
  { name: NAMES.errorFloor, calls: CALLS, run: (calls) => { for (let i = 0; i < calls / FLOOR_BATCH; i += 1) nullProbe.floor(FLOOR_BATCH); } },
  { name: NAMES.errorLib, calls: CALLS / 4, run: throwingLoop(() => nullProbe.readableBytes()) },
  { name: NAMES.pureJs, calls: CALLS / 4, run: throwingLoop(pureJsError) },
  {
    name: NAMES.errorLibNoStack,
    calls: CALLS / 4,
    run: (calls) => {
      KvmVfioError.stackFrames = 0;
      throwingLoop(() => nullProbe.readableBytes())(calls);
      KvmVfioError.stackFrames = undefined;
    },
  },
];
if (koffi.peer) {
  rows.push({ name: NAMES.koffi, calls: CALLS, run: loop(() => koffi.peer.success(fifoFd)) });
  rows.push({ name: NAMES.errorKoffi, calls: CALLS / 4, run: throwingLoop(() => koffi.peer.failure(nullFd)) });
}

console.error('bench: measuring (interleaved rounds, median of 7)...');
const measured = measureInterleaved(rows);
const cBinary = compileCProgram();
measured.set(NAMES.c, runCProgram(cBinary, 'pipe'));
measured.set(NAMES.errorC, runCProgram(cBinary, 'enotty'));
const ffi = installProblem ? { reason: installProblem } : runFfiNapi(fifoPath);
if (ffi.successNs) {
  measured.set(NAMES.ffi, ffi.successNs);
  measured.set(NAMES.errorFfi, ffi.failureNs);
}

pipeProbe.close();
nullProbe.close();
closeSync(fifoFd);
closeSync(nullFd);
rmSync(workDir, { recursive: true, force: true });

const floor = measured.get(NAMES.floor);
const errorFloor = measured.get(NAMES.errorFloor);
const order = [NAMES.floor, NAMES.c, NAMES.lib, NAMES.koffi, NAMES.ffi, NAMES.errorFloor, NAMES.errorC, NAMES.errorLib, NAMES.errorLibNoStack, NAMES.errorKoffi, NAMES.errorFfi, NAMES.pureJs];
const successRows = new Set([NAMES.floor, NAMES.c, NAMES.lib, NAMES.koffi, NAMES.ffi]);
const results = order.map((name) => {
  const ns = measured.get(name);
  if (ns === undefined) {
    const reason = name.startsWith('koffi') ? koffi.reason : ffi.reason;
    return { name, nsPerCall: null, overheadNs: null, note: reason ?? 'not measured' };
  }
  const base = name === NAMES.pureJs ? 0 : successRows.has(name) ? floor : errorFloor;
  return { name, nsPerCall: Math.round(ns), overheadNs: Math.round(ns - base) };
});

const libNs = measured.get(NAMES.lib);
const errorBudget = measured.get(NAMES.pureJs) + errorFloor;
const targets = [
  { target: 'success ≤ 1.2 × floor', value: libNs / floor, limit: 1.2 },
  ...(koffi.peer ? [{ target: 'success < koffi', value: libNs / measured.get(NAMES.koffi), limit: 1 }] : []),
  { target: 'error path ≤ 1.25 × (pure-JS Error + floor)', value: measured.get(NAMES.errorLib) / errorBudget, limit: 1.25 },
  { target: 'error path, stackFrames 0, ≤ 1.25 × (pure-JS Error + floor)', value: measured.get(NAMES.errorLibNoStack) / errorBudget, limit: 1.25 },
];

const width = Math.max(...results.map((row) => row.name.length));
console.log(`${'row'.padEnd(width)}  ${'ns/call'.padStart(9)}  ${'overhead'.padStart(9)}`);
for (const row of results) {
  const value = row.nsPerCall === null ? `(${row.note})` : `${String(row.nsPerCall).padStart(9)}  ${String(row.overheadNs).padStart(9)}`;
  console.log(`${row.name.padEnd(width)}  ${value}`);
}
console.log('\noverhead = ns/call − the floor of the same kind (success rows: pipe floor; error rows: ENOTTY floor; pure-JS: no syscall).');
for (const { target, value, limit } of targets) {
  console.log(`${value <= limit ? 'met ' : 'MISSED'}  ${target}: ${value.toFixed(3)}`);
}
writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${join('bench', 'results.json')}`);
