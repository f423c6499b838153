// Turns the raw measurements into the rows of bench/results.json and the printed table. Every row
// has name, nsPerCall and overheadNs (null when the figure is not a per-call time), plus:
//   section        where and how it was measured
//   call, peer     for per-call rows: which call, and who made it (floor, C, kvm-vfio-spapr, koffi, ffi-napi, js)
//   ratio, ratioTo the figure over its reference (the floor, or pure-JS Error + floor for errors)
//   instructions, instructionsAboveC   user-space instructions per call (callgrind, x86)
//   value, unit    for figures that are not ns per call (ms, syscalls, bytes per cycle, exponents)
//   target, met, why   the issue's target, whether this run met it, and what stands in the way
//   note           anything else the reader needs (proxies, counts, peers that cannot run)

import { readFileSync } from 'node:fs';

export const SECTIONS = {
  host: 'x86 host: FIONREAD twins — the library\'s call shapes, each issuing FIONREAD on a pipe (success) or /dev/null (ENOTTY), for the calls x86 cannot answer too (setSpaprTce, table.read)',
  hostKvm: 'x86 host: the real KVM ioctls on this machine\'s /dev/kvm (what an x86 kernel answers: no sPAPR)',
  hostExits: 'x86 host: the exit path on this machine\'s /dev/kvm — a real-mode guest exiting on every loop iteration (µs per exit: KVM_RUN, the exit, the answer)',
  hostEventLoop: 'x86 host: worst event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution)',
  instructions: 'x86 host: user-space instructions per call (valgrind --tool=callgrind; the kernel is not counted)',
  guest: 'emulated POWER host (ppc64le guest under TCG): the real KVM ioctls',
  setup: 'emulated POWER host: attachIommuGroup + detach',
  eventLoop: 'emulated POWER host: worst event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution)',
  growth: 'memory and growth: create/close cycles (Theil–Sen slopes per cycle of RSS and V8 heap, sampled after GC with the event loop turning)',
  scaling: 'emulated POWER host: cost as the work grows (exponent e of cost ≈ c·n^e: 0 flat, 1 linear)',
  conditions: 'run conditions',
};

const SHAPES = [
  { call: 'checkExtension', label: 'kvm.checkExtension(cap)' },
  { call: 'hasAttr', label: 'device.hasAttr(group, attr)' },
  { call: 'setAttrU64', label: 'device.setAttr(group, attr, u64n) — kvm_device_attr → u64' },
  { call: 'setSpaprTce', label: 'kvmVfio.setSpaprTce(group, table) — struct payload: kvm_device_attr → kvm_vfio_spapr_tce' },
];

const round = (value, digits = 0) => (value === null || value === undefined || Number.isNaN(value) ? null : Number(value.toFixed(digits)));

function row(fields) {
  return { nsPerCall: null, overheadNs: null, ...fields };
}

function callRow(section, { name, call, peer, ns, base, ratioBase, ratioTo, instructions, instructionsC, target, met, why, note }) {
  const fields = { section, name, call, peer };
  if (ns === undefined) return row({ ...fields, note: note ?? 'not measured' });
  const ratio = ratioBase ? ns / ratioBase : undefined;
  return row({
    ...fields,
    nsPerCall: round(ns),
    overheadNs: base === undefined ? null : round(ns - base),
    ...(ratio === undefined ? {} : { ratio: round(ratio, 3), ratioTo }),
    ...(instructions === undefined ? {} : { instructions: round(instructions), instructionsAboveC: instructionsC === undefined ? null : round(instructions - instructionsC) }),
    ...(target ? { target, met, ...(met ? {} : { why }) } : {}),
    ...(note ? { note } : {}),
  });
}

/** The CPU's Meltdown mitigation, from sysfs ('Mitigation: PTI' means every syscall return switches page tables). */
function meltdownStatus() {
  try {
    return readFileSync('/sys/devices/system/cpu/vulnerabilities/meltdown', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const MELTDOWN = meltdownStatus();
const PTI = /PTI/.test(MELTDOWN);

/** Why the success path misses 1.2× on this machine, with this run's figures. */
function successWhy(ns) {
  const bare = ns.get('napi.bare');
  const floor = ns.get('floor');
  const cause = PTI
    ? 'after each syscall the kernel exit switches page tables (PTI), so every page the call path touches — V8\'s API-call builtin, napi_get_cb_info and the value readers in node\'s text, the handle scope, the JS objects — can cost a page walk again on every call, while the floor loop touches ~3 pages'
    : `a syscall costs only ${round(floor)} ns on this CPU (meltdown: ${MELTDOWN}), so the fixed cost of entering native code from JavaScript weighs that much more against it`;
  return `a bare N-API function doing the same FIONREAD, with no library JavaScript, costs ${round(bare)} ns = ${round(bare / floor, 2)}× the floor in this run: ${cause}. ` +
    'The library\'s own checks (closed guard, argument ranges, result check) add the rest; they are guarantees and stay';
}

function errorWhy(ns, key) {
  const afterSyscall = ns.get('js.errorAfterSyscall');
  const pure = ns.get('js.error');
  const base = key === 'host' && afterSyscall !== undefined ? ` A pure-JS Error thrown right after a successful FIONREAD costs ${round(afterSyscall)} ns against ${round(pure)} ns in a warm loop, before any library code.` : '';
  return 'capturing the stack dominates: V8 walks and summarizes the frames (optimized frames with inlined callers need their deoptimization data decoded); ' +
    `with KvmVfioError.stackFrames = 0 the same error costs ${round(ns.get('lib.errorNoStack'))} ns.${base} ` +
    'Full stacks stay the default (a guarantee); stackFrames = 0 is the documented knob for hot failure loops';
}

function hostRows(host, instructions) {
  const { ns, notes, versions } = host;
  const section = SECTIONS.host;
  const ins = instructions?.perCall ?? new Map();
  const floor = ns.get('floor');
  const errorFloor = ns.get('errorFloor');
  const cIns = ins.get('c');
  const rows = [
    callRow(section, { name: 'floor: 1,000 FIONREADs in one native call, per ioctl (pipe)', call: 'floor', peer: 'floor', ns: floor, base: floor, ratioBase: floor, ratioTo: 'floor', instructions: ins.get('floor'), instructionsC: cIns }),
    callRow(section, { name: 'C program (separate process), FIONREAD on a pipe', call: 'floor', peer: 'C', ns: ns.get('c'), base: floor, ratioBase: floor, ratioTo: 'floor', instructions: cIns, instructionsC: cIns }),
    callRow(section, { name: 'bare N-API function: one FIONREAD, no library JavaScript (what N-API alone costs)', call: 'napi', peer: 'napi', ns: ns.get('napi.bare'), base: floor, ratioBase: floor, ratioTo: 'floor', instructions: ins.get('napi.bare'), instructionsC: cIns }),
  ];
  for (const { call, label } of SHAPES) {
    const lib = ns.get(`lib.${call}`);
    const ratio = lib / floor;
    const koffi = ns.get(`koffi.${call}`);
    const aboveC = ins.get(`lib.${call}`) - cIns;
    const met = ratio <= 1.2 && (koffi === undefined || lib < koffi) && !(aboveC > 1000);
    const missed = [ratio > 1.2 ? `${round(ratio, 2)}× the floor` : null, koffi !== undefined && lib >= koffi ? 'not faster than koffi' : null, aboveC > 1000 ? `${round(aboveC)} instructions above C` : null].filter(Boolean);
    rows.push(callRow(section, {
      name: `kvm-vfio-spapr ${label}`,
      call,
      peer: 'kvm-vfio-spapr',
      ns: lib,
      base: floor,
      ratioBase: floor,
      ratioTo: 'floor',
      instructions: ins.get(`lib.${call}`),
      instructionsC: cIns,
      target: '≤ 1.2× floor, < koffi, ≤ C + 1,000 instructions',
      met,
      why: `${missed.join('; ')}: ${successWhy(ns)}`,
      note: 'the public method as shipped; only its native ioctl is the FIONREAD twin (bench/native/probe.cc)',
    }));
    rows.push(callRow(section, { name: `koffi ${versions.koffi ?? ''} — same struct, built by koffi from a JS object`.replace('  ', ' '), call, peer: 'koffi', ns: koffi, base: floor, ratioBase: floor, ratioTo: 'floor', instructions: ins.get(`koffi.${call}`), instructionsC: cIns, note: koffi === undefined ? notes.get('koffi') : undefined }));
    rows.push(callRow(section, { name: `ffi-napi ${versions.ffi ?? ''} — same struct, written into Buffers`.replace('  ', ' '), call, peer: 'ffi-napi', ns: ns.get(`ffi.${call}`), base: floor, ratioBase: floor, ratioTo: 'floor', note: ns.get(`ffi.${call}`) === undefined ? notes.get('ffi') : 'in a child process (it aborts at exit); not under callgrind' }));
  }
  const tableRead = ns.get('lib.tableRead');
  const typedRead = ns.get('js.typedArrayRead');
  const readAboveC = ins.get('lib.tableRead') - 2;
  rows.push(
    callRow(section, { name: 'BigUint64Array element read in JS (the floor of table.read: no syscall)', call: 'tableRead', peer: 'floor', ns: typedRead, base: typedRead, ratioBase: typedRead, ratioTo: 'typed-array read', instructions: ins.get('js.typedArrayRead') }),
    callRow(section, { name: 'kvm-vfio-spapr table.read(i) — a TCE from the table\'s mmap (anonymous memory here)', call: 'tableRead', peer: 'kvm-vfio-spapr', ns: tableRead, base: typedRead, ratioBase: typedRead, ratioTo: 'typed-array read', instructions: ins.get('lib.tableRead'),
      target: '≤ C + 1,000 instructions (a C read is ~2)', met: !(readAboveC > 1000), why: `${round(readAboveC)} instructions above a C load`,
      note: 'a read has no syscall, so the 1.2× floor target does not apply: the closed guard and the index check are what it adds to a plain load' }),
  );
  const budget = ns.get('js.error') + errorFloor;
  const errorRow = (id, name, extra = {}) => callRow(section, { name, call: 'error', peer: 'kvm-vfio-spapr', ns: ns.get(id), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor', instructions: ins.get(id), instructionsC: ins.get('c.error'), ...extra });
  rows.push(
    callRow(section, { name: 'floor: 1,000 FIONREADs in one native call, per ioctl (/dev/null: ENOTTY)', call: 'errorFloor', peer: 'floor', ns: errorFloor, base: errorFloor, instructions: ins.get('errorFloor') }),
    callRow(section, { name: 'C program (separate process), ENOTTY on /dev/null', call: 'errorFloor', peer: 'C', ns: ns.get('c.error'), base: errorFloor, instructions: ins.get('c.error') }),
    errorRow('lib.error', 'kvm-vfio-spapr error path: kvm.checkExtension → KvmVfioError (hint, fields, full stack) thrown and caught', {
      target: '≤ 1.25× (pure-JS Error + floor)', met: ns.get('lib.error') / budget <= 1.25, why: errorWhy(ns, 'host'),
    }),
    errorRow('lib.errorNoStack', 'kvm-vfio-spapr error path, KvmVfioError.stackFrames = 0', {
      target: '≤ 1.25× (pure-JS Error + floor)', met: ns.get('lib.errorNoStack') / budget <= 1.25,
      why: 'the Error constructor itself (a C++ builtin) and the message, hint lookup and eight fields, run right after the syscall with a cold TLB',
    }),
    callRow(section, { name: 'koffi error path: errno read, Error built in JS, thrown and caught', call: 'error', peer: 'koffi', ns: ns.get('koffi.error'), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor', instructions: ins.get('koffi.error'), note: ns.get('koffi.error') === undefined ? notes.get('koffi') : undefined }),
    callRow(section, { name: 'ffi-napi error path: errno read, Error built in JS, thrown and caught', call: 'error', peer: 'ffi-napi', ns: ns.get('ffi.error'), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor', note: ns.get('ffi.error') === undefined ? notes.get('ffi') : undefined }),
    callRow(section, { name: 'pure-JS Error created, thrown and caught (no syscall)', call: 'error', peer: 'js', ns: ns.get('js.error'), base: 0, instructions: ins.get('js.error') }),
    callRow(section, { name: 'pure-JS Error thrown right after a successful FIONREAD (the cold-TLB effect alone)', call: 'error', peer: 'js', ns: ns.get('js.errorAfterSyscall'), base: floor, instructions: ins.get('js.errorAfterSyscall') }),
  );
  if (instructions?.reason) rows.push(row({ section: SECTIONS.instructions, name: 'instructions per call', note: instructions.reason }));
  return rows;
}

const KVM_CALL_LABELS = {
  guest: {
    checkExtension: 'kvm.checkExtension(KVM_CAP_SPAPR_TCE_VFIO) on /dev/kvm',
    hasAttr: 'kvmVfio.hasAttr(KVM_DEV_VFIO_GROUP, SET_SPAPR_TCE)',
    setSpaprTce: 'kvmVfio.setSpaprTce(group, table) on a linked group — struct payload (kvm_vfio_spapr_tce)',
  },
  hostKvm: {
    checkExtension: 'kvm.checkExtension(KVM_CAP_SPAPR_TCE_VFIO) on /dev/kvm',
    hasAttr: 'kvmVfio.hasAttr(KVM_DEV_VFIO_GROUP, GROUP_ADD)',
  },
};

const JS_UNDER_TCG = 'guest JavaScript runs 10-70× slower under TCG than on a real POWER host, so the N-API transition and the library\'s checks weigh far more against a syscall here than there';

/** Per-call rows of real KVM ioctls: `where` is 'guest' (the emulated POWER host) or 'hostKvm' (x86). */
function kvmCallRows(where, calls) {
  const section = SECTIONS[where];
  const guest = where === 'guest';
  if (!calls?.ok) return [row({ section, name: `per-call figures ${guest ? 'in the emulated POWER host' : 'on this x86 host\'s /dev/kvm'}`, note: calls?.error ?? 'not measured' })];
  const ns = new Map(Object.entries(calls.value.ns));
  const cNote = calls.value.notes?.c;
  const rows = [];
  const koffiNote = calls.value.notes?.koffi;
  const koffiName = `koffi ${calls.value.koffiVersion ?? ''}${guest ? ' (its linux-ppc64 build)' : ''} — the same ioctl, struct built by koffi`.replace('  ', ' ');
  const missWhy = guest ? JS_UNDER_TCG : `a KVM ioctl costs only ${round(ns.get('floor.checkExtension'))}–${round(ns.get('floor.hasAttr'))} ns here, so the fixed cost of entering native code from JavaScript weighs that much against it (the FIONREAD rows above show a bare N-API function alone)`;
  for (const [call, label] of Object.entries(KVM_CALL_LABELS[where])) {
    const floor = ns.get(`floor.${call}`);
    const lib = ns.get(`lib.${call}`);
    const koffi = ns.get(`koffi.${call}`);
    const ratio = lib / floor;
    const missed = [ratio > 1.2 ? `${round(ratio, 2)}× the floor (${round(lib - floor)} ns above it)` : null, koffi !== undefined && lib >= koffi ? 'not faster than koffi' : null].filter(Boolean);
    rows.push(
      callRow(section, { name: `floor: 1,000 in one native call — ${label}`, call, peer: 'floor', ns: floor, base: floor, ratioBase: floor, ratioTo: 'floor' }),
      callRow(section, { name: `C program (${guest ? 'static, ' : ''}separate process) — ${call}`, call, peer: 'C', ns: ns.get(`c.${call}`), base: floor, ratioBase: floor, ratioTo: 'floor', note: cNote }),
      callRow(section, {
        name: `kvm-vfio-spapr ${label}`, call, peer: 'kvm-vfio-spapr', ns: lib, base: floor, ratioBase: floor, ratioTo: 'floor',
        target: '≤ 1.2× floor, < koffi', met: missed.length === 0, why: `${missed.join('; ')}: ${missWhy}`,
      }),
      callRow(section, { name: koffiName, call, peer: 'koffi', ns: koffi, base: floor, ratioBase: floor, ratioTo: 'floor', note: koffi === undefined ? koffiNote : undefined }),
    );
  }
  if (guest) {
    rows.push(row({ section, name: 'ffi-napi', note: 'not measured here: ffi-napi 4.0.3 ships no ppc64le build, and building it needs a compiler in the guest and Node headers it compiles against (it fails against Node 20.20\'s)' }));
    const typed = ns.get('js.typedArrayRead');
    rows.push(
      callRow(section, { name: 'BigUint64Array element read in JS (the floor of table.read)', call: 'tableRead', peer: 'floor', ns: typed, base: typed, ratioBase: typed, ratioTo: 'typed-array read' }),
      callRow(section, { name: 'C program: one TCE read from the table\'s mmap', call: 'tableRead', peer: 'C', ns: ns.get('c.tableRead'), base: typed, note: cNote }),
      callRow(section, { name: 'kvm-vfio-spapr table.read(i) on the real table mmap', call: 'tableRead', peer: 'kvm-vfio-spapr', ns: ns.get('lib.tableRead'), base: typed, ratioBase: typed, ratioTo: 'typed-array read' }),
    );
  }
  const errorFloor = ns.get('errorFloor');
  const budget = ns.get('js.error') + errorFloor;
  rows.push(
    callRow(section, { name: 'floor: 1,000 KVM_SET_DEVICE_ATTR(group 1, attr 99) → ENXIO in one native call', call: 'errorFloor', peer: 'floor', ns: errorFloor, base: errorFloor }),
    callRow(section, { name: 'C program — the same ENXIO', call: 'errorFloor', peer: 'C', ns: ns.get('c.error'), base: errorFloor, note: cNote }),
    callRow(section, { name: 'kvm-vfio-spapr error path: kvmVfio.setAttr(1, 99n) → KvmVfioError ENXIO thrown and caught', call: 'error', peer: 'kvm-vfio-spapr', ns: ns.get('lib.error'), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor',
      target: '≤ 1.25× (pure-JS Error + floor)', met: ns.get('lib.error') / budget <= 1.25, why: errorWhy(ns, where) }),
    callRow(section, { name: 'kvm-vfio-spapr error path, KvmVfioError.stackFrames = 0', call: 'error', peer: 'kvm-vfio-spapr', ns: ns.get('lib.errorNoStack'), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor',
      target: '≤ 1.25× (pure-JS Error + floor)', met: ns.get('lib.errorNoStack') / budget <= 1.25, why: guest ? 'the Error constructor and the hint lookup run in TCG-emulated JavaScript' : 'the Error constructor itself (a C++ builtin) and the message, hint lookup and eight fields' }),
    callRow(section, { name: `${koffiName.split(' — ')[0]} error path: errno read, Error built in JS, thrown and caught`, call: 'error', peer: 'koffi', ns: ns.get('koffi.error'), base: errorFloor, ratioBase: budget, ratioTo: 'pure-JS Error + floor', note: ns.get('koffi.error') === undefined ? koffiNote : undefined }),
    callRow(section, { name: 'pure-JS Error created, thrown and caught (no syscall)', call: 'error', peer: 'js', ns: ns.get('js.error'), base: 0 }),
  );
  return rows;
}

function setupRows(setup) {
  const section = SECTIONS.setup;
  if (!setup?.ok) return [row({ section, name: 'attach + detach', note: setup?.error ?? 'not measured' })];
  const s = setup.value;
  const extraDetachWhy = 'each explicit undo is what detach must do when the group or container is shared or the caller\'s (UNSET_CONTAINER, REMOVE of the window, UNREGISTER_MEMORY); when the linkage owns both, closing them would do the same in the kernel, so these three are redundant only in that case';
  return [
    row({ section, name: `attachIommuGroup + detach cycle (group ${s.group}, 1 GiB window, 64 MiB registered), median of ${s.cycles}`, value: round(s.cycleMs, 1), unit: 'ms' }),
    row({ section, name: 'of which attach', value: round(s.attachMs, 1), unit: 'ms' }),
    row({ section, name: 'of which detach (the kernel clears the window\'s 262,144 TCEs)', value: round(s.detachMs, 1), unit: 'ms' }),
    row({
      section, name: `attach syscalls (fresh VM): ${s.attachSyscalls.join(', ')}`, value: s.attachSyscalls.length, unit: 'syscalls',
      target: `no syscall beyond kernel-abi.md §6 (${s.minimalAttach.length})`, met: s.extraAttach.length === 0,
      why: `extra: ${s.extraAttach.join(', ')}`,
      note: s.missingAttach.length ? `not issued: ${s.missingAttach.join(', ')} (the table's mmap waits for the first read)` : 'exactly the minimal sequence; the table\'s mmap waits for the first read',
    }),
    row({ section, name: `attach syscalls, again on the same VM: ${s.repeatAttachSyscalls.length} (the VM's capabilities are cached)`, value: s.repeatAttachSyscalls.length, unit: 'syscalls' }),
    row({
      section, name: `detach syscalls: ${s.detachSyscalls.join(', ')}`, value: s.detachSyscalls.length, unit: 'syscalls',
      note: `closing alone would need ${s.minimalDetach.length} (${s.minimalDetach.join(', ')}); the ${s.extraDetach.length} more (${s.extraDetach.join(', ')}): ${extraDetachWhy}`,
    }),
  ];
}

/**
 * Rows of worst event-loop delays: `entries` from measureEventLoop / measureDeviceClose. An async
 * row's target is < 5 ms; `idleKey` names the baseline entry measured the same way.
 */
function eventLoopRows(section, result, { idleKey, baselineWhy }) {
  if (!result?.ok) return [row({ section, name: 'event-loop delay', note: result?.error ?? 'not measured' })];
  const idle = result.value.find((entry) => entry.key === idleKey);
  return result.value.map((entry) => {
    const isAsync = entry.key.endsWith('-async');
    return row({
      section,
      name: `${entry.name}: ${round(entry.operationMs, 1)} ms per operation, worst delay over ${entry.reps} reps (median of the reps' worst: ${round(entry.medianWorstDelayMs, 1)} ms, p99 ${round(entry.p99DelayMs, 1)} ms)`,
      value: round(entry.worstDelayMs, 1),
      unit: 'ms',
      ...(isAsync ? {
        target: '< 5 ms',
        met: entry.worstDelayMs < 5,
        why: `the idle loop alone, timed the same way in the same reps, shows a worst delay of ${round(idle?.worstDelayMs, 1)} ms${baselineWhy}; the operation's median worst delay is ${round(entry.medianWorstDelayMs, 1)} ms against the idle ${round(idle?.medianWorstDelayMs, 1)} ms`,
      } : {}),
    });
  });
}

const GUEST_TIMERS = ': the emulated host (one TCG vCPU on a shared 2-core machine) stalls timers by itself';

function growthRows(where, results) {
  const section = SECTIONS.growth;
  if (!Array.isArray(results)) return [row({ section, name: `${where}: create/close cycles`, note: results?.error ?? results?.reason ?? 'not measured' })];
  return results.map((result) => {
    // Flat: not one fd more at the end, and a V8 heap slope (Theil–Sen) below 64 bytes per cycle:
    // less than the smallest object a leaking cycle would keep (an FdObject with its finalizer
    // record is a few hundred bytes), and about the resolution of the shortest guest runs.
    const flat = result.fdsChange === 0 && result.fdsPerCycle === 0 && Math.abs(result.heapBytesPerCycle) < 64;
    return row({
      section,
      name: `${where}: ${result.name} — ${result.cycles.toLocaleString('en-US')} cycles${result.limitedByBudget ? ' (as many as its time budget allowed)' : ''}, ${round(result.msPerCycle, 3)} ms each`,
      value: round(result.rssBytesPerCycle, 1),
      unit: 'RSS bytes/cycle',
      heapBytesPerCycle: round(result.heapBytesPerCycle, 1),
      fdsPerCycle: round(result.fdsPerCycle, 4),
      cycles: result.cycles,
      rssStartBytes: result.rssStartBytes,
      rssEndBytes: result.rssEndBytes,
      target: 'flat: no fd kept; V8 heap slope under 64 B/cycle',
      met: flat,
      why: `the V8 heap grows ${round(result.heapBytesPerCycle, 1)} B/cycle, fds ${result.fdsStart} → ${result.fdsEnd}`,
      note: `RSS ${(result.rssStartBytes / 2 ** 20).toFixed(1)} → ${(result.rssEndBytes / 2 ** 20).toFixed(1)} MiB; V8 heap ${round(result.heapBytesPerCycle, 1)} B/cycle; fds ${result.fdsStart} → ${result.fdsEnd}`,
    });
  });
}

function scalingRows(groups, tables) {
  const section = SECTIONS.scaling;
  const rows = [];
  const exponentRow = (name, exponent, extra = {}) => row({ section, name, value: round(exponent, 2), unit: 'exponent', target: '≤ 1 (no worse than linear)', met: exponent <= 1, why: 'grows faster than linearly', ...extra });
  if (groups?.ok) {
    const g = groups.value;
    for (const point of g.points) {
      rows.push(row({
        section,
        name: `${point.groups} group(s) linked on one KVM-VFIO device (16 MiB windows): attach of the last ${round(point.lastAttachMs, 1)} ms, detach of all ${round(point.detachAllMs, 1)} ms; hot calls ns: ${Object.entries(point.hotNs).map(([call, ns]) => `${call} ${round(ns)}`).join(', ')}`,
        value: point.groups,
        unit: 'groups',
      }));
    }
    rows.push(exponentRow(`groups 1…${g.points.at(-1).groups}: time of one more attach`, g.exponents.lastAttachMs));
    rows.push(exponentRow(`groups 1…${g.points.at(-1).groups}: detaching all (k linkages)`, g.exponents.detachAllMs));
    for (const call of ['checkExtension', 'hasAttr', 'setSpaprTce', 'tableRead']) rows.push(exponentRow(`groups 1…${g.points.at(-1).groups}: ${call} with k linked`, g.exponents[call]));
  } else rows.push(row({ section, name: 'linked groups', note: groups?.error ?? 'not measured' }));
  if (tables?.ok) {
    const t = tables.value;
    for (const point of t.points) {
      rows.push(row({
        section,
        name: `TCE table, ${formatBytes(point.windowBytes)} window (${point.entries.toLocaleString('en-US')} TCEs): create ${round(point.createMs, 2)} ms, first read (mmap + fault) ${round(point.firstReadMs, 2)} ms, read ${round(point.readNs)} ns, close ${round(point.closeMs, 2)} ms`,
        value: point.windowBytes,
        unit: 'bytes',
      }));
    }
    for (const [key, label] of [['createMs', 'creation'], ['firstReadMs', 'first read (mmap + one fault)'], ['readNs', 'a steady read'], ['closeMs', 'close']]) {
      rows.push(exponentRow(`TCE tables 1 MiB…64 GiB: ${label} vs window size`, t.exponents[key]));
    }
  } else rows.push(row({ section, name: 'TCE tables', note: tables?.error ?? 'not measured' }));
  return rows;
}

function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) {
    bytes /= 1024;
    unit += 1;
  }
  return `${bytes} ${units[unit]}`;
}

const EXIT_KINDS = { io: 'port I/O (out 0x10, al)', mmio: 'an MMIO store (mov [0x8000], al)' };

/** The exit path rows: the C VMM's loop, runSync() in a Worker and run() on the main thread, per exit kind. */
function exitRows(exits) {
  const section = SECTIONS.hostExits;
  if (!exits?.ok) return [row({ section, name: 'exit path on this x86 host\'s /dev/kvm', note: exits?.error ?? 'not measured' })];
  const { nsPerExit, exits: count, rounds } = exits.value;
  const rows = [];
  for (const [kind, label] of Object.entries(EXIT_KINDS)) {
    const c = nsPerExit.c[kind];
    const sync = nsPerExit.sync[kind];
    const ratio = sync / c;
    rows.push(
      callRow(section, { name: `C VMM vCPU loop (bench/c/x86_exits.c) — ${label}`, call: `exit.${kind}`, peer: 'C', ns: c, base: c, ratioBase: c, ratioTo: 'C' }),
      callRow(section, {
        name: `vcpu.runSync() in a Worker — ${label}`, call: `exit.${kind}`, peer: 'kvm-vfio-spapr', ns: sync, base: c, ratioBase: c, ratioTo: 'C',
        target: '≤ 1.5× C', met: ratio <= 1.5, why: `${round(ratio, 2)}× C: the N-API call into the handler and the exit object built for it`,
        note: `median of ${rounds} interleaved rounds of ${count.toLocaleString('en-US')} exits`,
      }),
      callRow(section, { name: `vcpu.run() on the main thread (KVM_RUN on a native thread) — ${label}`, call: `exit.${kind}`, peer: 'kvm-vfio-spapr (async)', ns: nsPerExit.async[kind], base: c, ratioBase: c, ratioTo: 'C' }),
    );
  }
  return rows;
}

/** 'exit ratio JS/C: R×' for the x86 host (the worse of the two exit kinds), or undefined. */
export function hostExitRatioLine(hostKvm) {
  const nsPerExit = hostKvm?.exits?.nsPerExit;
  if (!nsPerExit) return undefined;
  const ratios = Object.keys(EXIT_KINDS).map((kind) => [kind, nsPerExit.sync[kind] / nsPerExit.c[kind]]);
  const worst = Math.max(...ratios.map(([, ratio]) => ratio));
  const each = ratios.map(([kind, ratio]) => `${kind} ${ratio.toFixed(2)}×`).join(', ');
  const async = Object.keys(EXIT_KINDS).map((kind) => `${kind} ${(nsPerExit.async[kind] / nsPerExit.c[kind]).toFixed(2)}×`).join(', ');
  return `exit ratio JS/C: ${worst.toFixed(2)}× (x86 /dev/kvm, vcpu.runSync() in a Worker vs a C VMM's vCPU loop: ${each}; vcpu.run() on the main thread: ${async})`;
}

/** All rows of bench/results.json. */
export function buildRows({ host, hostKvm, instructions, hostGrowth, guest, conditions }) {
  const sections = guest?.sections ?? {};
  const guestUnavailable = guest?.reason;
  const unavailable = (section) => (guestUnavailable ? { ok: false, error: guestUnavailable } : section);
  const hostKvmPart = (part) => (hostKvm?.reason ? { ok: false, error: hostKvm.reason } : { ok: true, value: hostKvm?.[part] });
  return [
    ...hostRows(host, instructions),
    ...kvmCallRows('hostKvm', hostKvmPart('calls')),
    ...exitRows(hostKvm?.exits?.reason ? { ok: false, error: hostKvm.exits.reason } : hostKvmPart('exits')),
    ...eventLoopRows(SECTIONS.hostEventLoop, hostKvmPart('deviceClose'), { idleKey: 'device-close-idle', baselineWhy: ' (a shared 2-core machine)' }),
    ...kvmCallRows('guest', unavailable(sections.calls)),
    ...setupRows(unavailable(sections.setup)),
    ...eventLoopRows(SECTIONS.eventLoop, unavailable(sections.eventLoop), { idleKey: 'idle', baselineWhy: GUEST_TIMERS }),
    ...eventLoopRows(SECTIONS.eventLoop, unavailable(sections.deviceClose), { idleKey: 'device-close-idle', baselineWhy: GUEST_TIMERS }),
    ...growthRows('x86 host', hostGrowth),
    ...growthRows('emulated POWER host', guestUnavailable ? { reason: guestUnavailable } : sections.growth?.ok ? sections.growth.value : sections.growth),
    ...scalingRows(unavailable(sections.scalingGroups), unavailable(sections.scalingTables)),
    row({ section: SECTIONS.conditions, name: 'run conditions', conditions }),
  ];
}

function figure(entry) {
  if (entry.nsPerCall !== null) return `${entry.nsPerCall.toLocaleString('en-US')} ns`;
  if (entry.value !== undefined && entry.value !== null) return `${entry.value.toLocaleString('en-US')} ${entry.unit}`;
  return '—';
}

function verdict(entry) {
  if (entry.target === undefined) return '';
  return `${entry.met ? 'met' : 'MISSED'} (${entry.target})`;
}

/** The one table npm run bench prints. */
export function printTable(rows, log = console.log) {
  let section;
  for (const entry of rows) {
    if (entry.section === SECTIONS.conditions) continue;
    if (entry.section !== section) {
      section = entry.section;
      log(`\n== ${section}`);
      log(`${'figure'.padStart(14)}  ${'+floor'.padStart(8)}  ${'×ref'.padStart(6)}  ${'instr'.padStart(6)}  ${'+C'.padStart(6)}  row`);
    }
    const cells = [
      figure(entry).padStart(14),
      (entry.overheadNs === null ? '' : String(entry.overheadNs)).padStart(8),
      (entry.ratio === undefined ? '' : entry.ratio.toFixed(2)).padStart(6),
      (entry.instructions === undefined || entry.instructions === null ? '' : String(entry.instructions)).padStart(6),
      (entry.instructionsAboveC === undefined || entry.instructionsAboveC === null ? '' : String(entry.instructionsAboveC)).padStart(6),
    ];
    const tail = [verdict(entry), entry.note && entry.nsPerCall === null && entry.value === undefined ? `(${entry.note})` : ''].filter(Boolean).join(' ');
    log(`${cells.join('  ')}  ${entry.name}${tail ? `  — ${tail}` : ''}`);
  }
  const missed = rows.filter((entry) => entry.met === false);
  if (missed.length) {
    log('\nTargets missed, and what stands in the way:');
    for (const entry of missed) log(`- ${entry.name}: ${entry.why}`);
  }
}
