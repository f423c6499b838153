// Leak measurement shared by the host suite and the emulated POWER host: run open/close cycles of
// one object kind and compare open fds, library-owned fds, the library's live mappings (exactly),
// the process's mappings (V8's heap pages aside; loosely: V8 and malloc map and unmap as they grow)
// and RSS before and after.
import { readFileSync } from 'node:fs';
import { openFdCount } from '../support/fds.mjs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resourceStats } from '../../dist/index.js';

export { openFdCount } from '../support/fds.mjs';

const V8_PAGE = 0x40000n; // V8 allocates its heap in 256 KiB pages, aligned to their size

/** A V8 heap page: anonymous, read-write, 256 KiB at a 256 KiB boundary (they come and go with GC). */
function isV8HeapPage(line) {
  const [range, perms, , , , name] = line.split(/\s+/);
  if (perms !== 'rw-p' || name) return false;
  const [start, end] = range.split('-').map((hex) => BigInt(`0x${hex}`));
  return end - start === V8_PAGE && start % V8_PAGE === 0n;
}

/** Mappings in /proc/self/maps, without V8's heap pages: what the library and its kernel objects map shows here. */
export function mappingCount() {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line && !isV8HeapPage(line)).length;
}

/** globalThis.gc, or, without --expose-gc (the emulated host's runner), the same function switched on now. */
function findGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}
const gc = findGc();

/** Collects garbage a few times, letting finalizers and immediates run in between. */
export async function settle(rounds = 4) {
  for (let i = 0; i < rounds; i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function snapshot() {
  const stats = resourceStats();
  const { rss, heapTotal, heapUsed } = process.memoryUsage();
  return { fds: openFdCount(), ownedFds: stats.ownedFds, libraryMappings: stats.mappings, mappings: mappingCount(), rss, heapTotal, heapUsed };
}

// V8 grows its heap reservation in steps (heapTotal 13 -> 21 MiB seen here with heapUsed flat),
// and RSS follows: RSS growth beyond the reservation's growth is native memory (a shrinking
// reservation is not subtracted: never looser than the RSS growth itself).
function nativeGrowth(from, to) {
  return to.rss - from.rss - Math.max(0, to.heapTotal - from.heapTotal);
}

/**
 * Runs `cycle(i)` `cycles` times after `warmup` cycles (JIT, pools and caches settle first) and
 * returns { cycles, before, middle, after, rssGrowth, lateRssGrowth, earlyNativeGrowth,
 * lateNativeGrowth, steadyNativeGrowth, lateHeapUsedGrowth, msPerCycle }. The late figures are the
 * growth over the second half, when the V8 heap has reached its working size: a leak of 1 KiB per
 * cycle shows there as 5 MiB per 5,000 cycles, in native memory (RSS beyond V8's heap reservation)
 * or in the V8 heap in use. steadyNativeGrowth is the smaller of the two halves' native growth: a
 * leak grows in both, a one-off step in malloc's or V8's working size in only one (seen on
 * this machine with dropped GuestMemory: +4.9 MiB in one run's second half, +4.1 MiB in the next
 * run's first half and 0.0 in its second).
 */
export async function measureCycles(name, cycles, cycle, { warmup = Math.min(2000, cycles), drain = async () => {} } = {}) {
  const snapshotWhenDrained = async () => {
    await drain(); // work the cycles left in flight (async closes) finishes before each snapshot
    await settle();
    return snapshot();
  };
  for (let i = 0; i < warmup; i += 1) await cycle(i);
  const before = await snapshotWhenDrained();
  const started = process.hrtime.bigint();
  const half = Math.floor(cycles / 2);
  for (let i = 0; i < half; i += 1) await cycle(i);
  const halfElapsed = process.hrtime.bigint() - started;
  const middle = await snapshotWhenDrained();
  const resumed = process.hrtime.bigint();
  for (let i = half; i < cycles; i += 1) await cycle(i);
  const elapsed = Number(halfElapsed + (process.hrtime.bigint() - resumed)) / 1e6;
  const after = await snapshotWhenDrained();
  const result = {
    name,
    cycles,
    before,
    middle,
    after,
    rssGrowth: after.rss - before.rss,
    lateRssGrowth: after.rss - middle.rss,
    earlyNativeGrowth: nativeGrowth(before, middle),
    lateNativeGrowth: nativeGrowth(middle, after),
    lateHeapUsedGrowth: after.heapUsed - middle.heapUsed,
    msPerCycle: elapsed / cycles,
  };
  result.steadyNativeGrowth = Math.min(result.earlyNativeGrowth, result.lateNativeGrowth);
  const mib = (bytes) => (bytes / 1048576).toFixed(1);
  console.log(
    `# leaks: ${name}: ${cycles} cycles, ${result.msPerCycle.toFixed(3)} ms each; fds ${before.fds} -> ${after.fds}, ` +
      `library fds ${before.ownedFds} -> ${after.ownedFds}, library mappings ${before.libraryMappings} -> ${after.libraryMappings}, ` +
      `process mappings ${before.mappings} -> ${after.mappings}, ` +
      `RSS ${mib(before.rss)} -> ${mib(middle.rss)} -> ${mib(after.rss)} MiB ` +
      `(native: first half ${mib(result.earlyNativeGrowth)} MiB, second half ${mib(result.lateNativeGrowth)} MiB; second half: V8 heap in use ${mib(result.lateHeapUsedGrowth)} MiB)`,
  );
  return result;
}

