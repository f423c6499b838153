// Runs under valgrind --tool=callgrind --dump-before=getpriority (see callgrind.mjs): every row of
// host-calls.mjs is warmed up, then run N times and 2N times, each run ended by os.getPriority()
// (the marker: a libc call nothing else in Node makes), so that callgrind writes one dump per run.
// Instructions per call = (dump of 2N − dump of N) / N: start-up, JIT warm-up and the marker
// cancel out. Prints the row ids in dump order as JSON.
import { getPriority } from 'node:os';
import { setupHostCalls } from './host-calls.mjs';

const N = Number(process.argv[2] ?? 2000);
const WARMUP_ROUNDS = 3;
const setup = await setupHostCalls({ peersProblem: process.env.BENCH_NO_PEERS ? 'skipped' : undefined });
const rows = setup.rows.filter((row) => row.calls >= 1000);
const batch = (row, n) => Math.max(1000, Math.round(n / 1000) * 1000); // floor rows run whole batches of 1,000

for (let round = 0; round < WARMUP_ROUNDS; round += 1) {
  for (const row of rows) {
    row.run(batch(row, N));
    row.run(batch(row, 2 * N));
  }
}
getPriority(); // dump 1: start-up and warm-up
for (const row of rows) {
  row.run(batch(row, N));
  getPriority();
  row.run(batch(row, 2 * N));
  getPriority();
}
setup.close();
process.stdout.write(`${JSON.stringify({ n: batch(rows[0], N), ids: rows.map((row) => row.id), sink: setup.rows.sink() })}\n`);
