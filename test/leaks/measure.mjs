// Leak measurement shared by the host suite and the emulated POWER host: run open/close cycles of
// one object kind and compare open fds, library-owned fds, mappings and RSS before and after.
import { readFileSync } from 'node:fs';
import { openFdCount } from '../support/fds.mjs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resourceStats } from '../../dist/index.js';

export { openFdCount } from '../support/fds.mjs';

/** Lines of /proc/self/maps: one per mapping. */
export function mappingCount() {
  return readFileSync('/proc/self/maps', 'utf8').split('\n').length - 1;
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
  return { fds: openFdCount(), ownedFds: resourceStats().ownedFds, mappings: mappingCount(), rss: process.memoryUsage.rss() };
}

/**
 * Runs `cycle(i)` `cycles` times after `warmup` cycles (JIT, pools and caches settle first) and
 * returns { cycles, before, middle, after, rssGrowth, lateRssGrowth, msPerCycle }. lateRssGrowth
 * is the growth over the second half, when the V8 heap has reached its working size: a leak of
 * 1 KiB per cycle shows there as 5 MiB per 5,000 cycles.
 */
export async function measureCycles(name, cycles, cycle, { warmup = Math.min(2000, cycles) } = {}) {
  for (let i = 0; i < warmup; i += 1) await cycle(i);
  await settle();
  const before = snapshot();
  const started = process.hrtime.bigint();
  const half = Math.floor(cycles / 2);
  for (let i = 0; i < half; i += 1) await cycle(i);
  const halfElapsed = process.hrtime.bigint() - started;
  await settle();
  const middle = snapshot();
  const resumed = process.hrtime.bigint();
  for (let i = half; i < cycles; i += 1) await cycle(i);
  const elapsed = Number(halfElapsed + (process.hrtime.bigint() - resumed)) / 1e6;
  await settle();
  const after = snapshot();
  const result = { name, cycles, before, middle, after, rssGrowth: after.rss - before.rss, lateRssGrowth: after.rss - middle.rss, msPerCycle: elapsed / cycles };
  const mib = (bytes) => (bytes / 1048576).toFixed(1);
  console.log(
    `# leaks: ${name}: ${cycles} cycles, ${result.msPerCycle.toFixed(3)} ms each; fds ${before.fds} -> ${after.fds}, ` +
      `library fds ${before.ownedFds} -> ${after.ownedFds}, mappings ${before.mappings} -> ${after.mappings}, ` +
      `RSS ${mib(before.rss)} -> ${mib(middle.rss)} -> ${mib(after.rss)} MiB`,
  );
  return result;
}
