// Timing helpers: every row is measured in interleaved rounds (so drift on this shared machine
// hits all rows alike) and reported as the median ns per call.
export function nsPerCall(fn, calls) {
  const start = process.hrtime.bigint();
  fn(calls);
  return Number(process.hrtime.bigint() - start) / calls;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** rows: [{ name, calls, run(calls) }]; returns Map name -> median ns per call. */
export function measureInterleaved(rows, { rounds = 7, warmupRounds = 2 } = {}) {
  const samples = new Map(rows.map((row) => [row.name, []]));
  for (let round = 0; round < warmupRounds + rounds; round += 1) {
    for (const row of rows) {
      const value = nsPerCall(row.run, row.calls);
      if (round >= warmupRounds) samples.get(row.name).push(value);
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
