// Memory and growth: RSS and open fds across many create/close cycles of one object kind, sampled
// after a forced GC (node --expose-gc), and the least-squares slope per cycle. Shared by the host
// run (as a script: node --expose-gc bench/growth.mjs <cycles>, prints JSON) and the guest run.
import { openSync, closeSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { robustSlope } from './measure.mjs';

const SAMPLES = 20;

export function openFdCount() {
  return readdirSync('/proc/self/fd').length - 1; // minus the fd readdir itself holds
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** RSS, V8 heap (used + external) and fds after the event loop turned (N-API finalizers of collected objects run there) and a GC. */
async function sample() {
  globalThis.gc?.();
  await turn();
  globalThis.gc?.();
  await turn();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed + usage.external, fds: openFdCount() };
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Runs kind.cycle() `cycles` times, or as many as fit `budgetMs` when that is smaller (timed on 10
 * calibration cycles), after a warm-up of 5% of that count; samples RSS, V8 heap and fds SAMPLES
 * times, the event loop turning at each sample as it does in a real program. Returns the slopes
 * per cycle (Theil–Sen: robust to the steps in which heaps grow).
 */
export async function measureGrowth(kind, { cycles, budgetMs = Infinity }) {
  const calibration = 10;
  const calibrated = nowMs();
  for (let i = 0; i < calibration; i += 1) kind.cycle(i);
  const perCycleMs = (nowMs() - calibrated) / calibration;
  const count = Math.max(SAMPLES, Math.min(cycles, Math.floor(budgetMs / perCycleMs)));
  const warmup = Math.max(10, Math.round(count / 20));
  for (let i = 0; i < warmup; i += 1) kind.cycle(calibration + i);
  const step = Math.max(1, Math.floor(count / SAMPLES));
  const xs = [];
  const rss = [];
  const heap = [];
  const fds = [];
  const first = await sample();
  const measured = nowMs();
  for (let i = 0; i < count; i += 1) {
    kind.cycle(calibration + warmup + i);
    if ((i + 1) % step === 0) {
      const point = await sample();
      xs.push(i + 1);
      rss.push(point.rss);
      heap.push(point.heap);
      fds.push(point.fds);
    }
  }
  const seconds = (nowMs() - measured) / 1000;
  return {
    name: kind.name,
    cycles: count,
    limitedByBudget: count < cycles,
    seconds,
    msPerCycle: (seconds * 1000) / count,
    rssBytesPerCycle: robustSlope(xs, rss),
    heapBytesPerCycle: robustSlope(xs, heap),
    fdsPerCycle: robustSlope(xs, fds),
    fdsChange: fds.at(-1) - first.fds,
    rssStartBytes: first.rss,
    rssEndBytes: rss.at(-1),
    fdsStart: first.fds,
    fdsEnd: fds.at(-1),
  };
}

/** The kinds that exist without /dev/kvm: an FdObject (dup/close), guest memory, a failing open. */
export async function hostKinds() {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const { FdProbe } = await import('./probe.mjs');
  const { GuestMemory, Kvm, pageSize } = await import(join(root, 'dist', 'index.js'));
  const nullFd = openSync('/dev/null', 'r');
  const size = BigInt(pageSize()) * 16n;
  return {
    kinds: [
      { name: 'FdObject: FdProbe.adopt (dup) then close', cycle: () => FdProbe.adopt(nullFd).close() },
      {
        name: 'GuestMemory.allocate (64 KiB on x86, mmap), one byte written, close (munmap)',
        cycle: (i) => {
          const memory = GuestMemory.allocate(size);
          new Uint8Array(memory.buffer)[i & 0xff] = 1;
          memory.close();
        },
      },
      {
        name: "Kvm.open('/dev/null'): opened, KVM_GET_API_VERSION fails (ENOTTY), fd closed, KvmVfioError thrown",
        cycle: () => {
          try {
            Kvm.open('/dev/null');
          } catch {
            // the error is the point: its fd must be closed and nothing kept
          }
        },
      },
    ],
    close: () => closeSync(nullFd),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cycles = Number(process.argv[2] ?? 100_000);
  const { kinds, close } = await hostKinds();
  const results = [];
  for (const kind of kinds) results.push(await measureGrowth(kind, { cycles }));
  close();
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
