// Timing helpers: every row is measured in interleaved rounds (so drift on this shared machine
// hits all rows alike) and reported as the median ns per call.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export function nsPerCall(fn, calls) {
  const start = process.hrtime.bigint();
  fn(calls);
  return Number(process.hrtime.bigint() - start) / calls;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** rows: [{ id (or name), calls, run(calls) }]; returns Map id -> median ns per call. */
export function measureInterleaved(rows, { rounds = 7, warmupRounds = 2 } = {}) {
  const key = (row) => row.id ?? row.name;
  const samples = new Map(rows.map((row) => [key(row), []]));
  for (let round = 0; round < warmupRounds + rounds; round += 1) {
    for (const row of rows) {
      const value = nsPerCall(row.run, row.calls);
      if (round >= warmupRounds) samples.get(key(row)).push(value);
    }
  }
  return new Map([...samples].map(([name, values]) => [name, median(values)]));
}

/** A loop that calls fn `calls` times and swallows the throw each time (error-path rows). */
export function throwingLoop(fn) {
  return (calls) => {
    for (let i = 0; i < calls; i += 1) {
      try {
        fn();
      } catch {
        // the cost of creating, throwing and catching is what is measured
      }
    }
  };
}

export function loop(fn) {
  return (calls) => {
    for (let i = 0; i < calls; i += 1) fn();
  };
}

/** Least-squares slope of ys over xs (e.g. bytes of RSS per cycle). */
export function slope(xs, ys) {
  const n = xs.length;
  const meanX = xs.reduce((sum, x) => sum + x, 0) / n;
  const meanY = ys.reduce((sum, y) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < n; i += 1) {
    numerator += (xs[i] - meanX) * (ys[i] - meanY);
    denominator += (xs[i] - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

/**
 * The Theil–Sen slope: the median of the slopes between every pair of points. A V8 heap or RSS
 * series moves in steps (a space grows by a page range at a GC); the median ignores those steps,
 * where least squares follows them.
 */
export function robustSlope(xs, ys) {
  const slopes = [];
  for (let i = 0; i < xs.length; i += 1) {
    for (let j = i + 1; j < xs.length; j += 1) {
      if (xs[j] !== xs[i]) slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
    }
  }
  return slopes.length ? median(slopes) : 0;
}

/** The exponent k of y ≈ c·x^k (log-log least squares): 1 is linear, below 1 sublinear. */
export function growthExponent(xs, ys) {
  return slope(xs.map(Math.log), ys.map(Math.log));
}

/** The worst, 99th-percentile and mean event-loop delay while `operation()` (sync, or returning a promise) runs. */
export async function loopDelayDuring(operation) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(50); // let the sampling timer start
  const started = process.hrtime.bigint();
  await operation();
  const operationMs = Number(process.hrtime.bigint() - started) / 1e6;
  await sleep(20); // the sample that covers the end
  histogram.disable();
  return { operationMs, maxDelayMs: histogram.max / 1e6, p99DelayMs: histogram.percentile(99) / 1e6, meanDelayMs: histogram.mean / 1e6 };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Entries { key, name, reps, operationMs, worstDelayMs, medianWorstDelayMs, p99DelayMs } from
 * samples: Map key -> [loopDelayDuring results], names: key -> row name.
 */
export function summarizeDelays(samples, names) {
  return [...samples].map(([key, values]) => ({
    key,
    name: names[key],
    reps: values.length,
    operationMs: median(values.map((value) => value.operationMs)),
    worstDelayMs: Math.max(...values.map((value) => value.maxDelayMs)),
    medianWorstDelayMs: median(values.map((value) => value.maxDelayMs)),
    p99DelayMs: median(values.map((value) => value.p99DelayMs)),
  }));
}
