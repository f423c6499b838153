// The hot calls against the real kernel, inside the emulated POWER host: the library's public
// methods on a real linkage (group 1 linked to a LIOBN), the in-process floors (the same ioctl
// 1,000 times in one native call), koffi making the same ioctls (its linux-ppc64 build, installed
// by run.mjs into .cache/bench/guest-peers), pure-JS references, and the static C program
// (bench/c/kvm_calls.c, on group 2). ffi-napi has no ppc64le build, so it is not measured here.
import { execFileSync } from 'node:child_process';
import { Cap, GuestMemory, KvmVfioError, Kvm, attachIommuGroup, requestNumbers } from '../dist/index.js';
import { fdOf } from '../dist/handle.js';
import { native } from '../dist/native.js';
import { deviceErrorRows } from './kvm-rows.mjs';
import { probe, shared } from './probe.mjs';
import { loop, measureInterleaved, throwingLoop } from './measure.mjs';
import { loadKoffiPeer } from './peers/koffi.mjs';

const CALLS = 2_000;
const FLOOR_BATCH = 1_000;
const GROUP = 1; // KVM_DEV_VFIO_GROUP
const SET_SPAPR_TCE = 3n;
const NO_SUCH_ATTR = 99n; // for koffi's error row
const LIOBN = 0x80000000n;
const WINDOW = 64n << 20n;

/** koffi's ppc64le build, from the directory run.mjs installed it into, or { reason }. */
function loadKoffi(from) {
  if (!from) return { reason: 'no koffi for ppc64le was installed' };
  try {
    const requests = { checkExtension: requestNumbers.KVM_CHECK_EXTENSION, hasAttr: requestNumbers.KVM_HAS_DEVICE_ATTR, setAttr: requestNumbers.KVM_SET_DEVICE_ATTR };
    return { peer: loadKoffiPeer({ requests, capByValue: true, from }) };
  } catch (error) {
    return { reason: `koffi could not load: ${String(error.message).split('\n')[0]}` };
  }
}

function rows({ kvm, linkage, koffi }) {
  const { device, group, table } = linkage;
  const kvmFd = shared(fdOf(kvm, 'bench'));
  const deviceFd = shared(fdOf(device, 'bench'));
  const groupFd = fdOf(group, 'bench');
  const tableFd = fdOf(table, 'bench');
  const batches = (floor) => (calls) => {
    for (let i = 0; i < calls / FLOOR_BATCH; i += 1) floor(FLOOR_BATCH);
  };
  const rawView = new BigUint64Array(0x1000);
  let sink = 0;
  const list = [
    { id: 'floor.checkExtension', calls: CALLS, run: batches((n) => probe.checkExtensionLoop(kvmFd, Cap.SPAPR_TCE_VFIO, n)) },
    { id: 'lib.checkExtension', calls: CALLS, run: loop(() => kvm.checkExtension(Cap.SPAPR_TCE_VFIO)) },
    { id: 'floor.hasAttr', calls: CALLS, run: batches((n) => probe.deviceAttrLoop(deviceFd, requestNumbers.KVM_HAS_DEVICE_ATTR, GROUP, SET_SPAPR_TCE, n)) },
    { id: 'lib.hasAttr', calls: CALLS, run: loop(() => device.hasAttr(GROUP, SET_SPAPR_TCE)) },
    { id: 'floor.setSpaprTce', calls: CALLS, run: batches((n) => probe.setSpaprTceLoop(deviceFd, groupFd, tableFd, n)) },
    { id: 'lib.setSpaprTce', calls: CALLS, run: loop(() => device.setSpaprTce(group, table)) },
    { id: 'lib.tableRead', calls: CALLS * 10, run: (calls) => { for (let i = 0; i < calls; i += 1) if (table.read(i & 0xfff) !== 0n) sink += 1; } },
    { id: 'js.typedArrayRead', calls: CALLS * 10, run: (calls) => { for (let i = 0; i < calls; i += 1) if (rawView[i & 0xfff] !== 0n) sink += 1; } },
    ...deviceErrorRows({ native, probe, device, deviceFd, KvmVfioError, calls: CALLS, batches }),
  ];
  if (koffi.peer) {
    const peer = koffi.peer;
    list.push(
      { id: 'koffi.checkExtension', calls: CALLS, run: loop(() => peer.checkExtension(kvmFd, Cap.SPAPR_TCE_VFIO)) },
      { id: 'koffi.hasAttr', calls: CALLS, run: loop(() => peer.hasAttr(deviceFd, GROUP, SET_SPAPR_TCE)) },
      { id: 'koffi.setSpaprTce', calls: CALLS, run: loop(() => peer.setSpaprTce(deviceFd, groupFd, tableFd)) },
      { id: 'koffi.error', calls: CALLS / 4, run: throwingLoop(() => peer.setAttrNone(deviceFd, GROUP, NO_SUCH_ATTR)) },
    );
  }
  list.sink = () => sink;
  return list;
}

function runCProgram(binary, group) {
  if (!binary) return { reason: 'no C program given' };
  try {
    return { ns: JSON.parse(execFileSync(binary, [String(CALLS), '7', String(group)], { encoding: 'utf8' })) };
  } catch (error) {
    return { reason: `the C program failed: ${String(error.stderr || error.message).trim().split('\n')[0]}` };
  }
}

/** Map id -> ns per call (ids as in host-calls.mjs; C rows 'c.<call>'), plus notes. */
export async function measureGuestCalls({ cProgram, cGroup, koffiFrom }) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(16n << 20n);
  const linkage = attachIommuGroup(vm, { group: 1, liobn: LIOBN, windowSize: WINDOW, memory });
  const koffi = loadKoffi(koffiFrom);
  const ns = measureInterleaved(rows({ kvm, linkage, koffi }));
  linkage.close();
  memory.close();
  vm.close();
  kvm.close();
  const c = runCProgram(cProgram, cGroup);
  const notes = new Map();
  if (c.ns) for (const [call, value] of Object.entries(c.ns)) ns.set(`c.${call}`, value);
  else notes.set('c', c.reason);
  if (koffi.reason) notes.set('koffi', koffi.reason);
  return { ns, notes, koffiVersion: koffi.peer?.version };
}
