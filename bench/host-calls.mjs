// Per-call time of the hot calls on this (x86) machine, all in one process and one interleaved
// run: the in-process floor, the library's public methods (with FIONREAD twins, see twins.mjs),
// koffi, pure-JS references; then the separate C program and ffi-napi (in a child: it aborts at
// exit). Returns Map id -> ns per call, plus notes for what could not run.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pureJsError } from './kvm-rows.mjs';
import { loop, measureInterleaved, throwingLoop } from './measure.mjs';
import { probe, shared } from './probe.mjs';
import { floorLoops, native, objectsOver, swapInTwins } from './twins.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const cacheDir = join(dirname(benchDir), '.cache', 'bench');
const CALLS = 20_000;
const FLOOR_BATCH = 1_000;
const CAP = 142; // KVM_CAP_SPAPR_TCE_VFIO
const GROUP = 1; // KVM_DEV_VFIO_GROUP
const ATTR = 3n; // KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE

export function ensurePeersInstalled() {
  if (existsSync(join(benchDir, 'node_modules', 'koffi')) && existsSync(join(benchDir, 'node_modules', 'ffi-napi'))) return undefined;
  console.error('bench: installing the FFI peers into bench/node_modules (ffi-napi with its FFI_NAPI=1 workaround)...');
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: benchDir,
    env: { ...process.env, FFI_NAPI: '1' },
    encoding: 'utf8',
  });
  return result.status === 0 ? undefined : `npm install failed: ${(result.stderr || '').trim().split('\n').slice(-2).join(' ')}`;
}

export function compileCProgram() {
  mkdirSync(cacheDir, { recursive: true });
  const binary = join(cacheDir, 'ioctl_loop');
  execFileSync('gcc', ['-O2', '-o', binary, join(benchDir, 'c', 'ioctl_loop.c')]);
  return binary;
}

function runCProgram(binary, mode) {
  const samples = [];
  for (let i = 0; i < 7; i += 1) samples.push(Number(execFileSync(binary, [mode, String(CALLS), '7'], { encoding: 'utf8' })));
  return samples.sort((a, b) => a - b)[3];
}

async function loadKoffi(problem) {
  if (problem) return { reason: problem };
  try {
    const { loadKoffiPeer } = await import('./peers/koffi.mjs');
    const fionread = native.requests.FIONREAD;
    return { peer: loadKoffiPeer({ requests: { checkExtension: fionread, hasAttr: fionread, setAttr: fionread } }) };
  } catch (error) {
    return { reason: `koffi could not load: ${error.message.split('\n')[0]}` };
  }
}

function runFfiNapi(fifoPath, problem) {
  if (problem) return { reason: problem };
  const child = spawnSync(process.execPath, [join(benchDir, 'peers', 'ffi-napi-child.mjs'), fifoPath, String(native.requests.FIONREAD), String(CALLS / 10)], {
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

function makeFifo(dir) {
  const path = join(dir, 'bench.fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

/** The rows of the interleaved in-process run: [{ id, calls, run(calls) }]. */
function inProcessRows({ pipe, dead, pipeFloor, deadFloor, koffi, pipeFd, nullFd, KvmVfioError }) {
  const tableMask = 0xfff;
  const rawView = new BigUint64Array(0x1000);
  let sink = 0;
  const batches = (floor) => (calls) => {
    for (let i = 0; i < calls / FLOOR_BATCH; i += 1) floor.fionread(FLOOR_BATCH);
  };
  const rows = [
    { id: 'floor', calls: CALLS, run: batches(pipeFloor) },
    { id: 'napi.bare', calls: CALLS, run: loop(() => probe.probeFionread(pipe.fd)) },
    { id: 'lib.checkExtension', calls: CALLS, run: loop(() => pipe.kvm.checkExtension(CAP)) },
    { id: 'lib.hasAttr', calls: CALLS, run: loop(() => pipe.device.hasAttr(GROUP, ATTR)) },
    { id: 'lib.setAttrU64', calls: CALLS, run: loop(() => pipe.genericDevice.setAttr(GROUP, ATTR, 5n)) },
    { id: 'lib.setSpaprTce', calls: CALLS, run: loop(() => pipe.device.setSpaprTce(pipe.group, pipe.table)) },
    { id: 'lib.tableRead', calls: CALLS * 10, run: (calls) => { for (let i = 0; i < calls; i += 1) if (pipe.table.read(i & tableMask) !== 0n) sink += 1; } },
    { id: 'js.typedArrayRead', calls: CALLS * 10, run: (calls) => { for (let i = 0; i < calls; i += 1) if (rawView[i & tableMask] !== 0n) sink += 1; } },
    { id: 'errorFloor', calls: CALLS, run: batches(deadFloor) },
    { id: 'lib.error', calls: CALLS / 4, run: throwingLoop(() => dead.kvm.checkExtension(CAP)) },
    {
      id: 'lib.errorNoStack',
      calls: CALLS / 4,
      run: (calls) => {
        KvmVfioError.stackFrames = 0;
        throwingLoop(() => dead.kvm.checkExtension(CAP))(calls);
        KvmVfioError.stackFrames = undefined;
      },
    },
    { id: 'js.error', calls: CALLS / 4, run: throwingLoop(() => pureJsError('ENOTTY', 25, 'KVM_CHECK_EXTENSION')) },
    {
      id: 'js.errorAfterSyscall',
      calls: CALLS / 4,
      run: throwingLoop(() => {
        probe.probeFionread(pipe.fd);
        pureJsError('ENOTTY', 25, 'KVM_CHECK_EXTENSION');
      }),
    },
  ];
  rows.sink = () => sink;
  if (koffi.peer) {
    const peer = koffi.peer;
    rows.push(
      { id: 'koffi.checkExtension', calls: CALLS, run: loop(() => peer.checkExtension(pipeFd)) },
      { id: 'koffi.hasAttr', calls: CALLS, run: loop(() => peer.hasAttr(pipeFd, GROUP, ATTR)) },
      { id: 'koffi.setAttrU64', calls: CALLS, run: loop(() => peer.setAttrU64(pipeFd, GROUP, ATTR, 5n)) },
      { id: 'koffi.setSpaprTce', calls: CALLS, run: loop(() => peer.setSpaprTce(pipeFd, 4, 5)) },
      { id: 'koffi.error', calls: CALLS / 4, run: throwingLoop(() => peer.checkExtension(nullFd)) },
    );
  }
  return rows;
}

/** The objects, fds and rows of the in-process run; close() releases them. */
export async function setupHostCalls({ peersProblem }) {
  const { KvmVfioError } = await import(join(dirname(benchDir), 'dist', 'index.js'));
  const restoreNatives = swapInTwins();
  const workDir = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-bench-'));
  const fifoPath = makeFifo(workDir);
  const pipe = objectsOver(fifoPath);
  const dead = objectsOver('/dev/null');
  const pipeFloor = floorLoops(fifoPath);
  const deadFloor = floorLoops('/dev/null');
  const rawPipeFd = openSync(fifoPath, 'r+');
  const rawNullFd = openSync('/dev/null', 'r');
  pipe.fd = shared(native.duplicateFd(rawPipeFd)); // for the bare N-API row and the pure-JS error after a syscall
  const koffi = await loadKoffi(peersProblem);
  const rows = inProcessRows({ pipe, dead, pipeFloor, deadFloor, koffi, pipeFd: rawPipeFd, nullFd: rawNullFd, KvmVfioError });
  return {
    rows,
    fifoPath,
    koffi,
    close() {
      probe.unshareFd(pipe.fd);
      native.closeFd(pipe.fd);
      for (const closable of [pipe, dead, pipeFloor, deadFloor]) closable.close();
      closeSync(rawPipeFd);
      closeSync(rawNullFd);
      rmSync(workDir, { recursive: true, force: true });
      restoreNatives();
    },
  };
}

/** Runs everything; returns { ns: Map id -> ns per call, notes: Map peer -> why not measured, versions }. */
export async function measureHostCalls({ peersProblem }) {
  const setup = await setupHostCalls({ peersProblem });
  console.error('bench: host calls (interleaved rounds, median of 7)...');
  const ns = measureInterleaved(setup.rows);
  const cBinary = compileCProgram();
  ns.set('c', runCProgram(cBinary, 'pipe'));
  ns.set('c.error', runCProgram(cBinary, 'enotty'));
  const ffi = runFfiNapi(setup.fifoPath, peersProblem);
  if (ffi.rows) {
    for (const [shape, value] of Object.entries(ffi.rows)) ns.set(`ffi.${shape}`, value);
  }
  setup.close();
  const notes = new Map();
  if (!setup.koffi.peer) notes.set('koffi', setup.koffi.reason);
  if (!ffi.rows) notes.set('ffi', ffi.reason);
  return { ns, notes, versions: { koffi: setup.koffi.peer?.version, ffi: ffi.version } };
}
