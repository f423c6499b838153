// The exit path on this x86 machine's own /dev/kvm (issue 15): a real-mode guest that exits on
// every iteration, by port I/O and by an MMIO store, answered three ways in interleaved rounds:
//   C      bench/c/x86_exits.c, the vCPU loop of a C VMM (its own process)
//   sync   vcpu.runSync() in a Worker: KVM_RUN and the JavaScript handler on one thread
//   async  vcpu.run() on the main thread: KVM_RUN on a native thread, the handler on the event loop
// Each round runs all three for both guests, so load on this shared machine weighs on each alike.
// Returns { nsPerExit: { c, sync, async } (each { io, mmio }, medians of the rounds), exits, rounds } or { reason }.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { exitHandlers, PROGRAMS, x86Guest } from './x86-guest.mjs';

const EXITS = 20_000;
const WARMUP = 1_000;
const ROUNDS = 5;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function syncRound(dist, program) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./x86-exit-worker.mjs', import.meta.url), { workerData: { dist, program, exits: EXITS, warmup: WARMUP } });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

async function asyncRound(library, program) {
  const guest = x86Guest(library, program);
  try {
    await guest.vcpu.run(exitHandlers(library, program, WARMUP).handlers);
    const { handlers, answered } = exitHandlers(library, program, EXITS);
    const started = process.hrtime.bigint();
    await guest.vcpu.run(handlers);
    const elapsed = Number(process.hrtime.bigint() - started);
    return { nsPerExit: elapsed / EXITS, exits: answered() };
  } finally {
    guest[Symbol.dispose]();
  }
}

function compileC(cacheDir, benchDir) {
  const binary = join(cacheDir, 'x86_exits');
  execFileSync('gcc', ['-O2', '-o', binary, join(benchDir, 'c', 'x86_exits.c')]);
  return binary;
}

/** One round of the C peer: { io, mmio } ns per exit. */
function cRound(binary) {
  return JSON.parse(execFileSync(binary, [String(EXITS), '1'], { encoding: 'utf8' }));
}

export async function measureX86Exits({ root, cacheDir, benchDir }) {
  const dist = pathToFileURL(join(root, 'dist', 'index.js')).href;
  const library = await import(dist);
  let binary;
  try {
    binary = compileC(cacheDir, benchDir);
  } catch (error) {
    return { reason: `the C peer failed to build: ${String(error.stderr || error.message).trim().split('\n')[0]}` };
  }
  const samples = { c: { io: [], mmio: [] }, sync: { io: [], mmio: [] }, async: { io: [], mmio: [] } };
  for (let round = 0; round < ROUNDS; round += 1) {
    const c = cRound(binary);
    for (const program of Object.keys(PROGRAMS)) samples.c[program].push(c[program]);
    for (const program of Object.keys(PROGRAMS)) {
      for (const [path, measure] of [['sync', () => syncRound(dist, program)], ['async', () => asyncRound(library, program)]]) {
        const { nsPerExit, exits } = await measure();
        if (exits !== EXITS) return { reason: `${path} ${program} answered ${exits} exits, not ${EXITS}` };
        samples[path][program].push(nsPerExit);
      }
    }
  }
  const medians = (byProgram) => Object.fromEntries(Object.entries(byProgram).map(([program, values]) => [program, median(values)]));
  return { nsPerExit: { c: medians(samples.c), sync: medians(samples.sync), async: medians(samples.async) }, exits: EXITS, rounds: ROUNDS };
}
