// The hot calls against this x86 machine's own /dev/kvm, where it has a usable one: the real KVM
// ioctls an x86 kernel answers (KVM_CHECK_EXTENSION, KVM_HAS_DEVICE_ATTR on the KVM-VFIO device,
// and the ENXIO of an unknown attribute), through the public API, against the in-process floors,
// the C program (bench/c/kvm_calls.c without a group) and koffi with the same request numbers;
// then the KVM-VFIO device's close, sync and async, for the event loop. x86 has no sPAPR code, so
// setSpaprTce and table.read stay in the FIONREAD rows (host-calls.mjs) and the guest.
// run.mjs runs this file in a process of its own (`node bench/host-kvm.mjs`, JSON on stdout): the
// FIONREAD rows swap natives, and V8 then treats those properties as mutable in that process.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureDeviceClose } from './device-close.mjs';
import { measureX86Exits } from './x86-exits.mjs';
import { deviceErrorRows } from './kvm-rows.mjs';
import { loop, measureInterleaved, throwingLoop } from './measure.mjs';
import { probe, shared } from './probe.mjs';

const CALLS = 20_000;
const FLOOR_BATCH = 1_000;
const CAP = 142; // KVM_CAP_SPAPR_TCE_VFIO: 0 on x86, through the same generic path
const GROUP = 1; // KVM_DEV_VFIO_GROUP
const GROUP_ADD = 1n; // an attribute every KVM-VFIO device has
const NO_SUCH_ATTR = 99n; // for koffi's error row

/** Why this machine's /dev/kvm cannot be measured, or undefined. */
function unavailable(Kvm) {
  if (process.arch !== 'x64') return `not an x86_64 host (${process.arch})`;
  try {
    const kvm = Kvm.open();
    kvm.createVm().close();
    kvm.close();
    return undefined;
  } catch (error) {
    return `no usable /dev/kvm on this machine (${error.code})`;
  }
}

function rows({ kvm, device, native, fdOf, koffi, KvmVfioError }) {
  const kvmFd = shared(fdOf(kvm, 'bench'));
  const deviceFd = shared(fdOf(device, 'bench'));
  const batches = (floor) => (calls) => {
    for (let i = 0; i < calls / FLOOR_BATCH; i += 1) floor(FLOOR_BATCH);
  };
  const { KVM_HAS_DEVICE_ATTR } = native.requests;
  const list = [
    { id: 'floor.checkExtension', calls: CALLS, run: batches((n) => probe.checkExtensionLoop(kvmFd, CAP, n)) },
    { id: 'lib.checkExtension', calls: CALLS, run: loop(() => kvm.checkExtension(CAP)) },
    { id: 'floor.hasAttr', calls: CALLS, run: batches((n) => probe.deviceAttrLoop(deviceFd, KVM_HAS_DEVICE_ATTR, GROUP, GROUP_ADD, n)) },
    { id: 'lib.hasAttr', calls: CALLS, run: loop(() => device.hasAttr(GROUP, GROUP_ADD)) },
    ...deviceErrorRows({ native, probe, device, deviceFd, KvmVfioError, calls: CALLS, batches }),
  ];
  if (koffi.peer) {
    const peer = koffi.peer;
    list.push(
      { id: 'koffi.checkExtension', calls: CALLS, run: loop(() => peer.checkExtension(kvmFd, CAP)) },
      { id: 'koffi.hasAttr', calls: CALLS, run: loop(() => peer.hasAttr(deviceFd, GROUP, GROUP_ADD)) },
      { id: 'koffi.error', calls: CALLS / 4, run: throwingLoop(() => peer.setAttrNone(deviceFd, GROUP, NO_SUCH_ATTR)) },
    );
  }
  return list;
}

async function loadKoffi(requests, problem) {
  if (problem) return { reason: problem };
  try {
    const { loadKoffiPeer } = await import('./peers/koffi.mjs');
    return { peer: loadKoffiPeer({ requests: { checkExtension: requests.KVM_CHECK_EXTENSION, hasAttr: requests.KVM_HAS_DEVICE_ATTR, setAttr: requests.KVM_SET_DEVICE_ATTR }, capByValue: true }) };
  } catch (error) {
    return { reason: `koffi could not load: ${String(error.message).split('\n')[0]}` };
  }
}

function runCProgram(cacheDir, benchDir) {
  try {
    const binary = join(cacheDir, 'kvm_calls-x86_64');
    execFileSync('gcc', ['-O2', '-o', binary, join(benchDir, 'c', 'kvm_calls.c')]);
    return { ns: JSON.parse(execFileSync(binary, [String(CALLS), '7'], { encoding: 'utf8' })) };
  } catch (error) {
    return { reason: `the C program failed: ${String(error.stderr || error.message).trim().split('\n')[0]}` };
  }
}

/**
 * { calls: { ns: Map id -> ns, notes, koffiVersion }, deviceClose: entries, exits } or { reason }
 * when this machine has no usable /dev/kvm. ids as in guest-calls.mjs; the C rows are 'c.<call>';
 * exits as x86-exits.mjs returns them.
 */
export async function measureHostKvm({ root, cacheDir, benchDir, peersProblem }) {
  const dist = (file) => import(join(root, 'dist', file));
  const { Kvm, KvmVfioError } = await dist('index.js');
  const { native } = await dist('native.js');
  const { fdOf } = await dist('handle.js');
  const reason = unavailable(Kvm);
  if (reason) return { reason };
  console.error('bench: real KVM calls on this x86 host (interleaved rounds, median of 7)...');
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const device = vm.createVfioDevice();
  const koffi = await loadKoffi(native.requests, peersProblem);
  const ns = measureInterleaved(rows({ kvm, device, native, fdOf, koffi, KvmVfioError }));
  device.close();
  vm.close();
  kvm.close();
  const notes = {};
  const c = runCProgram(cacheDir, benchDir);
  if (c.ns) for (const [call, value] of Object.entries(c.ns)) ns.set(`c.${call}`, value);
  else notes.c = c.reason;
  if (koffi.reason) notes.koffi = koffi.reason;
  console.error('bench: KVM-VFIO device close, sync and async, on this x86 host...');
  const deviceClose = await measureDeviceClose({ Kvm });
  console.error('bench: the exit path on this x86 host: port I/O and MMIO exits answered in C, by runSync() and by run()...');
  const exits = await measureX86Exits({ root, cacheDir, benchDir });
  return { calls: { ns: Object.fromEntries(ns), notes, koffiVersion: koffi.peer?.version }, deviceClose, exits };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const benchDir = dirname(fileURLToPath(import.meta.url));
  const root = dirname(benchDir);
  const cacheDir = join(root, '.cache', 'bench');
  mkdirSync(cacheDir, { recursive: true });
  const result = await measureHostKvm({ root, cacheDir, benchDir, peersProblem: process.argv[2] });
  console.log(JSON.stringify(result));
}
