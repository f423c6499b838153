// User-space instructions per call, from valgrind --tool=callgrind: exact and repeatable, unlike
// times on this machine. The library, koffi and the references run in node under callgrind
// (callgrind-target.mjs); the C program runs under it twice (N and 2N ioctls). Instructions in
// the kernel are not counted, so these are the binding's own costs.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const N = 2000;
// V8 writes and patches machine code in anonymous memory: valgrind must re-check it.
const VALGRIND = ['--tool=callgrind', '--smc-check=all-non-file', '--dump-before=getpriority'];

function valgrindProblem() {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : 'valgrind is not installed (apt-get install valgrind)';
}

/** Total Ir of each dump file `<prefix>.<k>`, in k order (k = 1 is start-up). */
function dumpTotals(dir, prefix) {
  return readdirSync(dir)
    .filter((name) => name.startsWith(`${prefix}.`))
    .map((name) => ({ k: Number(name.slice(prefix.length + 1)), text: readFileSync(join(dir, name), 'utf8') }))
    .sort((a, b) => a.k - b.k)
    .map(({ text }) => Number(/^(?:summary|totals): (\d+)/m.exec(text)[1]));
}

function totalOf(dir, file) {
  return Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, file), 'utf8'))[1]);
}

function measureNode(dir, peersProblem) {
  const out = join(dir, 'node.out');
  const run = spawnSync('valgrind', [...VALGRIND, `--callgrind-out-file=${out}`, process.execPath, join(benchDir, 'callgrind-target.mjs'), String(N)], {
    encoding: 'utf8',
    env: { ...process.env, ...(peersProblem ? { BENCH_NO_PEERS: '1' } : {}) },
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`node under callgrind failed: ${(run.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  const { n, ids } = JSON.parse(run.stdout.trim().split('\n').pop());
  const totals = dumpTotals(dir, 'node.out');
  const perCall = new Map();
  ids.forEach((id, i) => perCall.set(id, (totals[2 + 2 * i] - totals[1 + 2 * i]) / n));
  return perCall;
}

function measureC(dir, cBinary, mode) {
  const totals = [N, 2 * N].map((count) => {
    const file = `c-${mode}-${count}.out`;
    execFileSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${join(dir, file)}`, cBinary, mode, String(count), '1'], { stdio: 'ignore' });
    return totalOf(dir, file);
  });
  return (totals[1] - totals[0]) / N;
}

/** Map id -> user-space instructions per call (same ids as host-calls.mjs), or { reason }. */
export function measureInstructions({ cBinary, peersProblem }) {
  const problem = valgrindProblem();
  if (problem) return { reason: problem };
  console.error('bench: instructions per call under callgrind (about a minute)...');
  const dir = mkdtempSync(join(tmpdir(), 'kvm-vfio-spapr-callgrind-'));
  try {
    const perCall = measureNode(dir, peersProblem);
    perCall.set('c', measureC(dir, cBinary, 'pipe'));
    perCall.set('c.error', measureC(dir, cBinary, 'enotty'));
    return { perCall };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
