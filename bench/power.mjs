// npm run bench:power, inside the emulated POWER host (scripts/bench-power.sh boots it): the
// guest's H_PUT_TCE loop in one boot, N hypercalls per case —
//   A  no in-kernel table: every hypercall exits to JavaScript
//   B  an in-kernel table for the LIOBN
//   C  a VFIO group (edu) linked to the LIOBN, guest memory registered
//   A in C: case A again in a static C VMM (bench/c/l2_vmm.c), answering the exits in C
// and prints hypercalls per second, user-space exits per hypercall, B/A and C/A, and the cost of
// one user-space exit answered by JavaScript vs by C. Writes bench/results-power.json.
// Under emulation one nested round trip costs ~50 µs, which compresses every ratio: exit counts
// are the signal; rates are context.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { GuestMemory, Kvm, attachIommuGroup } from '../dist/index.js';
import { loadProgram } from '../dist/examples/l2-program.js';
import { TceGuest } from '../dist/examples/tce-guest.js';

const N = Number(process.env.BENCH_HYPERCALLS ?? 20_000);
const LIOBN_WITHOUT_TABLE = 0x1000n;
const LIOBN = 0x80000000n;
const WINDOW = 1n << 30n;
const EDU_GROUP = 2;
const C_VMM = process.argv[2];
// Room for every TCE the guest writes (1 MiB + N pages): a TCE beyond guest RAM is H_TOO_HARD, an exit.
const GUEST_MEMORY = ((BigInt(N) * 4096n + (1n << 20n)) / (64n << 20n) + 1n) * (64n << 20n);
const loop = { hcall: 0x20n, iterations: N, tce: 0x100003n };

async function runCase(name, setup) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(GUEST_MEMORY);
  const guest = TceGuest.create(vm, memory);
  const cleanup = setup(vm, memory);
  const started = process.hrtime.bigint();
  const report = await guest.runLoop({ ...loop, liobn: cleanup.liobn });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  cleanup.close();
  guest.close();
  memory.close();
  vm.close();
  kvm.close();
  if (report.hypercalls !== N || report.failed !== 0) throw new Error(`${name}: ${report.hypercalls} hypercalls, ${report.failed} failed`);
  return { name, hypercalls: N, userExits: report.userExits, seconds };
}

function runCVmm(hypercalls, mainThread, extraArgs = []) {
  const image = new ArrayBuffer(0x20000);
  loadProgram(image);
  writeFileSync('/tmp/l2-image.bin', new Uint8Array(image));
  const args = ['/tmp/l2-image.bin', String(hypercalls), String(LIOBN_WITHOUT_TABLE), String(GUEST_MEMORY), ...(mainThread ? ['--main-thread'] : extraArgs)];
  const result = JSON.parse(execFileSync(C_VMM, args, { encoding: 'utf8' }));
  const where = mainThread ? 'the process main thread' : 'a thread of its own';
  return { name: `A in C: exits to a C handler, vCPU on ${where}`, ...result };
}

const cases = [
  await runCase('A: no table, every hypercall exits to JavaScript', () => ({ liobn: LIOBN_WITHOUT_TABLE, close() {} })),
  await runCase('B: in-kernel table', (vm) => {
    const table = vm.createSpaprTceTable({ liobn: LIOBN, size: WINDOW >> 12n });
    return { liobn: LIOBN, close: () => table.close() };
  }),
  await runCase('C: VFIO group linked, memory registered', (vm, memory) => {
    const linkage = attachIommuGroup(vm, { group: EDU_GROUP, liobn: LIOBN, windowSize: WINDOW, memory });
    return { liobn: LIOBN, close: () => linkage.close() };
  }),
];
if (C_VMM) {
  cases.push(runCVmm(N, false));
  cases.push(runCVmm(Math.min(N, 1000), true)); // slow: fewer hypercalls
}
const sync = await runSyncCase();

// What an exit's handler pays per distinct 4 KiB page it touches: the C VMM answering the same exits
// while reading one byte from each of TOUCHED_PAGES pages, against touching none (see bench/c/l2_vmm.c);
// medians of 3 interleaved rounds of 5,000 exits.
const TOUCHED_PAGES = 200;
const pageCost = C_VMM ? measurePageCost() : null;

function measurePageCost() {
  const hypercalls = Math.min(N, 5000);
  const perExit = (pages) => {
    const result = runCVmm(hypercalls, false, ['--touch-pages', String(pages)]);
    return (result.seconds / result.userExits) * 1e6;
  };
  const median = (values) => values.sort((x, y) => x - y)[values.length >> 1];
  const nones = [];
  const toucheds = [];
  for (let round = 0; round < 3; round++) { // interleaved: this machine's load drifts
    nones.push(perExit(0));
    toucheds.push(perExit(TOUCHED_PAGES));
  }
  const none = median(nones);
  const touched = median(toucheds);
  return { microsecondsPerExitNoPages: none, microsecondsPerExitTouched: touched, microsecondsPerPage: (touched - none) / TOUCHED_PAGES };
}

/** Case A with vcpu.runSync() in a Worker: the exit answered on the thread that called KVM_RUN. */
async function runSyncCase() {
  const { Worker } = await import('node:worker_threads');
  const workerData = { hypercalls: N, liobn: String(LIOBN_WITHOUT_TABLE), memorySize: String(GUEST_MEMORY), tce: String(loop.tce) };
  const result = await new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./sync-worker.mjs', import.meta.url), { workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (result.hypercalls !== N || result.failed !== 0) throw new Error(`A with runSync: ${result.hypercalls} hypercalls, ${result.failed} failed`);
  return { name: 'A with vcpu.runSync() in a Worker: exits to JavaScript on the KVM_RUN thread', hypercalls: N, userExits: result.userExits, seconds: result.seconds };
}

const [a, b, c, cA, cMain] = cases;
cases.push(sync);
const rate = (entry) => entry.hypercalls / entry.seconds;
const rows = cases.map((entry) => ({ ...entry, hypercallsPerSecond: Math.round(rate(entry)), exitsPerHypercall: entry.userExits / entry.hypercalls }));
const summary = {
  hypercallsPerCase: N,
  bOverA: rate(b) / rate(a),
  cOverA: rate(c) / rate(a),
  microsecondsPerExitJs: (a.seconds / a.userExits) * 1e6,
  microsecondsPerExitC: cA ? (cA.seconds / cA.userExits) * 1e6 : null,
  microsecondsPerExitCMainThread: cMain ? (cMain.seconds / cMain.userExits) * 1e6 : null,
  microsecondsPerHypercallInKernel: (b.seconds / b.hypercalls) * 1e6,
  microsecondsPerExitJsSync: (sync.seconds / sync.userExits) * 1e6,
};
summary.exitRatioJsOverC = summary.microsecondsPerExitC === null ? null : summary.microsecondsPerExitJsSync / summary.microsecondsPerExitC;
summary.exitRatioAsyncJsOverC = summary.microsecondsPerExitC === null ? null : summary.microsecondsPerExitJs / summary.microsecondsPerExitC;
summary.pageCost = pageCost;

const width = Math.max(...rows.map((row) => row.name.length));
console.log(`${'case'.padEnd(width)}  ${'hcalls/s'.padStart(9)}  ${'exits/hcall'.padStart(11)}  ${'seconds'.padStart(8)}`);
for (const row of rows) {
  console.log(`${row.name.padEnd(width)}  ${String(row.hypercallsPerSecond).padStart(9)}  ${row.exitsPerHypercall.toFixed(3).padStart(11)}  ${row.seconds.toFixed(2).padStart(8)}`);
}
console.log(`B/A ${summary.bOverA.toFixed(2)}×, C/A ${summary.cOverA.toFixed(2)}× (hypercalls per second, ${N} per case, one boot)`);
console.log(`one user-space exit: ${summary.microsecondsPerExitJs.toFixed(1)} µs answered by JavaScript` +
  (summary.microsecondsPerExitC === null ? '' : `, ${summary.microsecondsPerExitC.toFixed(1)} µs by C (${summary.microsecondsPerExitCMainThread.toFixed(1)} µs with KVM_RUN on the main thread)`) +
  `; an in-kernel hypercall: ${summary.microsecondsPerHypercallInKernel.toFixed(1)} µs`);
console.log(`one user-space exit with vcpu.runSync() in a Worker: ${summary.microsecondsPerExitJsSync.toFixed(1)} µs`);
if (summary.exitRatioJsOverC !== null) {
  console.log(`exit ratio JS/C: ${summary.exitRatioJsOverC.toFixed(2)}× (vcpu.runSync() in a Worker vs the C VMM's vCPU thread; vcpu.run() on the main thread: ${summary.exitRatioAsyncJsOverC.toFixed(2)}×)`);
}
if (pageCost) {
  const pagesWorth = (summary.microsecondsPerExitJsSync - summary.microsecondsPerExitC) / pageCost.microsecondsPerPage;
  console.log(`one 4 KiB page touched after an exit: ${pageCost.microsecondsPerPage.toFixed(2)} µs (the C VMM at ${pageCost.microsecondsPerExitNoPages.toFixed(1)} µs per exit touching none, ${pageCost.microsecondsPerExitTouched.toFixed(1)} µs touching ${TOUCHED_PAGES}); runSync's extra cost over C is ${Math.round(pagesWorth)} pages' worth`);
}
writeFileSync('bench/results-power.json', `${JSON.stringify({ cases: rows, summary }, null, 2)}\n`);

// The boot: the reference VMM (examples/spapr-vmm) boots Debian's kernel to the initramfs marker,
// with the XICS in JavaScript and with the kernel's, each on both exit paths: run() (exits hop to
// the event loop) and runSync() in a Worker (main.ts's default with one vCPU).
const { readFileSync } = await import('node:fs');
const { bootOnEventLoop: bootVmmOnEventLoop } = await import('../dist/examples/spapr-vmm/run-on-event-loop.js');
const { bootOnVcpuThread: bootVmmOnVcpuThread } = await import('../dist/examples/spapr-vmm/run-on-vcpu-thread.js');
const { USERSPACE_MARKER, markerInitramfs } = await import('../dist/examples/spapr-vmm/initramfs.js');
const { kernelImage } = await import('../scripts/power-host/kernel-tree.mjs');
const kernelPath = kernelImage();
const kernelFile = readFileSync(kernelPath);
const initrd = markerInitramfs(readFileSync('.cache/power-host/busybox/bin/busybox'));
const bootOptions = (irqchip) => ({ memorySize: 512n << 20n, commandLine: 'console=hvc0 quiet', cpus: 1, irqchip, marker: USERSPACE_MARKER });

const bootInputs = (irqchip) => ({ kernelFile, kernelPath, initrd, options: bootOptions(irqchip), console: 'drop' });
const bootOnEventLoop = async (irqchip) => (await bootVmmOnEventLoop(bootInputs(irqchip), 300_000)).report;
const bootOnVcpuThread = async (irqchip) => (await bootVmmOnVcpuThread(bootInputs(irqchip), 300_000)).report;

const boots = [];
for (const irqchip of ['user', 'kernel']) {
  for (const [exitPath, boot] of [['event-loop', bootOnEventLoop], ['vcpu-thread', bootOnVcpuThread]]) {
    const report = await boot(irqchip);
    if (!report.poweredOff || report.markerMilliseconds === undefined) throw new Error(`boot with the ${irqchip} XICS on the ${exitPath} path did not reach the marker and power off`);
    boots.push({ irqchip, exitPath, markerSeconds: report.markerMilliseconds / 1000, powerOffSeconds: report.milliseconds / 1000, exitsToUserSpace: Number(Object.values(report.exitsByReason).reduce((a, b) => a + b, 0n)), exitsInKernel: Number(report.exitsInKernel), hypercalls: report.hypercalls });
  }
}
for (const boot of boots) {
  console.log(`boot (XICS ${boot.irqchip === 'user' ? 'in JavaScript' : 'in the kernel'}, exits on ${boot.exitPath === 'vcpu-thread' ? 'the vCPU thread (runSync)' : 'the event loop (run)'}): VM creation to marker ${boot.markerSeconds.toFixed(2)} s, to power-off ${boot.powerOffSeconds.toFixed(2)} s; exits to user space ${boot.exitsToUserSpace}, handled in the kernel ${boot.exitsInKernel}`);
}

// The effect with a real driver (issue 14's figure): the guest's own nvme driver reads the passed-through
// controller with O_DIRECT, its TCEs written by the kernel (the LIOBN linked) or kept by the VMM in
// JavaScript (every H_PUT_TCE an exit, answered on the vCPU's thread: runSync). MB/s by the guest's clock.
const nvmeReads = await readNvmeBothWays();
if (nvmeReads.length === 2) {
  for (const read of nvmeReads) {
    console.log(`NVMe read in the guest (TCEs ${read.tce === 'kernel' ? 'in the kernel, LIOBN linked' : 'in JavaScript, mapped through VFIO'}): ${read.mib} MiB in ${read.readSeconds.toFixed(2)} s = ${read.megabytesPerSecond.toFixed(2)} MB/s; TCE hypercalls to user space ${read.tceHypercallsToUserSpace}${read.tce === 'user' ? ` (the boot's clearing of the window included), VFIO maps + unmaps ${read.vfioMappingsPerMiB.toFixed(0)} per MiB read` : ''}`);
  }
  const [linked, inJavaScript] = nvmeReads;
  console.log(`NVMe read, in-kernel TCEs / JavaScript TCEs: ${(linked.megabytesPerSecond / inJavaScript.megabytesPerSecond).toFixed(2)}× (the 2013 kernel work on hardware: 3.4–4.6×)`);
}

async function readNvmeBothWays() {
  const { existsSync } = await import('node:fs');
  const { nvmeAddress, readNvmeInGuest } = await import('../dist/examples/spapr-vmm/nvme-guest.js');
  const { kernelModulesDir } = await import('../scripts/power-host/kernel-tree.mjs');
  const directReadPath = '.cache/spapr-vmm/direct-read';
  if (!nvmeAddress() || !existsSync(directReadPath)) {
    console.log(`NVMe read: skipped (${nvmeAddress() ? `${directReadPath} is missing` : 'no NVMe controller on this host'})`);
    return [];
  }
  const reads = [];
  for (const tce of ['kernel', 'user']) {
    const read = await readNvmeInGuest({ kernelPath, modulesDir: kernelModulesDir(), busyboxPath: '.cache/power-host/busybox/bin/busybox', directReadPath, mib: 32, irqchip: 'kernel', tce, exitPath: 'vcpu-thread', timeoutMs: 600_000 });
    if (!read.report.poweredOff || read.readSeconds === undefined) throw new Error(`NVMe read with TCEs in ${tce} space did not finish:\n${read.console.slice(-2000)}`);
    const tceHypercallsToUserSpace = ['H_PUT_TCE', 'H_PUT_TCE_INDIRECT', 'H_STUFF_TCE'].reduce((sum, name) => sum + (read.report.hypercalls[name] ?? 0), 0);
    const stats = read.report.passthrough[0].tceStats;
    reads.push({
      tce, mib: read.mib, sha256: read.sha256, readSeconds: read.readSeconds, megabytesPerSecond: (read.mib * 1.048576) / read.readSeconds,
      tceHypercallsToUserSpace, vfioMappingsPerMiB: stats ? (stats.maps + stats.unmaps) / read.mib : 0,
    });
  }
  if (reads[0].sha256 !== reads[1].sha256) throw new Error('the two NVMe reads differ');
  return reads;
}
writeFileSync('bench/results-power.json', `${JSON.stringify({ cases: rows, summary, boots, nvmeReads }, null, 2)}\n`);
