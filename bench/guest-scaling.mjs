// How cost grows with the work, on the emulated POWER host:
//  - 1, 2, 4, ... groups linked (each with its own container, window and TCE table) on one VM's
//    KVM-VFIO device: the time of each attach, and of the hot calls once k are linked;
//  - in-kernel TCE tables from a 1 MiB to a 64 GiB window (4 KiB IOMMU pages): creation, the first
//    read (mmap and fault) and a steady read.
import { readdirSync } from 'node:fs';
import { Cap, GuestMemory, Kvm, attachIommuGroup, devicesBlockingViability } from '../dist/index.js';
import { growthExponent, measureInterleaved, median } from './measure.mjs';

const LIOBN = 0x80000000n;
const WINDOW = 16n << 20n;
const CALLS = 1_000;

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The viable VFIO groups of this host, in order. */
export function viableGroups() {
  return readdirSync('/dev/vfio')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((group) => devicesBlockingViability(group).length === 0)
    .sort((a, b) => a - b);
}

function powersOfTwoUpTo(n) {
  const counts = [];
  for (let k = 1; k <= n; k *= 2) counts.push(k);
  return counts;
}

/** k groups linked on one VM; the attach times and the hot calls with all k linked. */
function linkGroups(kvm, groups, k, memory) {
  const vm = kvm.createVm();
  const linkages = [];
  const attachMs = [];
  for (let i = 0; i < k; i += 1) {
    const started = nowMs();
    linkages.push(attachIommuGroup(vm, { group: groups[i], liobn: LIOBN + BigInt(i), windowSize: WINDOW, memory }));
    attachMs.push(nowMs() - started);
  }
  const { device, group, table } = linkages[0];
  const ns = measureInterleaved([
    { id: 'checkExtension', calls: CALLS, run: (n) => { for (let i = 0; i < n; i += 1) vm.checkExtension(Cap.SPAPR_TCE_VFIO); } },
    { id: 'hasAttr', calls: CALLS, run: (n) => { for (let i = 0; i < n; i += 1) device.hasAttr(1, 3n); } },
    { id: 'setSpaprTce', calls: CALLS, run: (n) => { for (let i = 0; i < n; i += 1) device.setSpaprTce(group, table); } },
    { id: 'tableRead', calls: CALLS * 10, run: (n) => { for (let i = 0; i < n; i += 1) table.read(i & 0xfff); } },
  ], { rounds: 5, warmupRounds: 3 });
  const detachStarted = nowMs();
  for (const linkage of linkages.reverse()) linkage.close();
  const detachMs = nowMs() - detachStarted;
  vm.close();
  return {
    groups: k,
    lastAttachMs: attachMs.at(-1),
    medianAttachMs: median(attachMs),
    detachAllMs: detachMs,
    hotNs: Object.fromEntries(ns),
  };
}

export function measureGroupScaling() {
  const groups = viableGroups();
  const kvm = Kvm.open();
  const memory = GuestMemory.allocate(16n << 20n);
  for (let i = 0; i < 2; i += 1) linkGroups(kvm, groups, 1, memory); // warm-up: guest JS needs a while to reach optimized code
  const points = powersOfTwoUpTo(groups.length).map((k) => linkGroups(kvm, groups, k, memory));
  memory.close();
  kvm.close();
  const ks = points.map((point) => point.groups);
  return {
    viableGroups: groups,
    points,
    // y ≈ c·k^e: e near 0 is flat, 1 linear.
    exponents: {
      lastAttachMs: growthExponent(ks, points.map((point) => point.lastAttachMs)),
      detachAllMs: growthExponent(ks, points.map((point) => point.detachAllMs)),
      ...Object.fromEntries(Object.keys(points[0].hotNs).map((call) => [call, growthExponent(ks, points.map((point) => point.hotNs[call]))])),
    },
  };
}

/** One table of `window` bytes: creation, first read, steady read, close. */
function tablePoint(vm, window, liobn) {
  const created = nowMs();
  const table = vm.createSpaprTceTable({ liobn, size: window >> 12n });
  const createMs = nowMs() - created;
  const firstRead = nowMs();
  table.read(0);
  const firstReadMs = nowMs() - firstRead;
  const mask = Math.min(0x1000, Number(table.size)) - 1; // the first page(s) of TCEs, already faulted in
  const ns = measureInterleaved([{ id: 'read', calls: CALLS * 10, run: (n) => { for (let i = 0; i < n; i += 1) table.read(i & mask); } }], { rounds: 5, warmupRounds: 1 });
  const closed = nowMs();
  table.close();
  return { createMs, firstReadMs, readNs: ns.get('read'), closeMs: nowMs() - closed };
}

export function measureTableScaling() {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const windows = [20n, 24n, 28n, 30n, 32n, 34n, 36n].map((shift) => 1n << shift); // 1 MiB ... 64 GiB
  tablePoint(vm, windows[0], 0x1fffn); // warm-up
  const points = windows.map((window, i) => {
    const reps = [0, 1, 2].map((rep) => tablePoint(vm, window, 0x2000n + BigInt(i * 4 + rep)));
    const pick = (key) => median(reps.map((rep) => rep[key]));
    return { windowBytes: Number(window), entries: Number(window >> 12n), createMs: pick('createMs'), firstReadMs: pick('firstReadMs'), readNs: pick('readNs'), closeMs: pick('closeMs') };
  });
  vm.close();
  kvm.close();
  const sizes = points.map((point) => point.windowBytes);
  return {
    points,
    exponents: Object.fromEntries(['createMs', 'firstReadMs', 'readNs', 'closeMs'].map((key) => [key, growthExponent(sizes, points.map((point) => point[key]))])),
  };
}
