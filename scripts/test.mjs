#!/usr/bin/env node
// npm test: the host suite (vitest, real syscalls on this machine), the host suite again with the
// addon built with ASan + UBSan (scripts/asan.mjs), then the POWER suite inside the emulated POWER
// host (node:test on a real ppc64le kernel), provisioning what is missing. A suite
// that cannot run here (not root, no package access) prints why and counts as skipped, never as
// passed. Ends with one line "N passed, N failed" over every suite, also written to
// .cache/test-results/summary.json for .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const resultsDir = join(root, '.cache', 'test-results');
const CANNOT_PROVISION = 77;

/** Runs a command, streaming its output; returns its exit status and elapsed seconds. */
function run(command, args, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  return { status: result.status ?? 1, seconds: (Date.now() - started) / 1000 };
}

function banner(text) {
  console.log(`\n==> ${text}`);
}

function buildTypeScript() {
  banner('build: tsc');
  return run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']).status === 0;
}

function hostSuite() {
  banner('host suite (vitest, real syscalls on this machine)');
  const report = join(resultsDir, 'host.json');
  const { status, seconds } = run(process.execPath, [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ]);
  if (!existsSync(report)) return { name: 'host', passed: 0, failed: 1, skipped: 0, seconds, note: `vitest exited ${status} without a report` };
  const json = JSON.parse(readFileSync(report, 'utf8'));
  const failed = json.numFailedTests + (status !== 0 && json.numFailedTests === 0 ? 1 : 0);
  return { name: 'host', passed: json.numPassedTests, failed, skipped: json.numPendingTests + json.numTodoTests, seconds };
}

function asanSuite() {
  banner('host suite under AddressSanitizer + UndefinedBehaviorSanitizer (scripts/asan.mjs)');
  const report = join(resultsDir, 'asan.json');
  const { status, seconds } = run(process.execPath, [join(root, 'scripts', 'asan.mjs'), '--report', report]);
  if (!existsSync(report)) return { name: 'ASan', passed: 0, failed: 1, skipped: 0, seconds, note: `scripts/asan.mjs exited ${status} without a report` };
  const result = JSON.parse(readFileSync(report, 'utf8'));
  return { name: 'ASan', passed: result.passed, failed: result.failed, skipped: result.skipped, seconds, note: result.note };
}

/** A count from node:test's TAP summary ("# pass 12"), or NaN when the summary is missing. */
function tapCount(text, label) {
  const match = text.match(new RegExp(`^# ${label} (\\d+)$`, 'm'));
  return match ? Number(match[1]) : Number.NaN;
}

function tapCounts(text) {
  return { passed: tapCount(text, 'pass'), failed: tapCount(text, 'fail'), skipped: (tapCount(text, 'skipped') || 0) + (tapCount(text, 'todo') || 0) };
}

function powerSuite() {
  banner('POWER suite: cross-build the ppc64le addon');
  const cross = run('bash', [join(root, 'scripts', 'build-ppc64.sh')]);
  if (cross.status === 3 || cross.status === CANNOT_PROVISION) {
    return { name: 'POWER', passed: 0, failed: 0, skipped: 1, seconds: cross.seconds, note: 'skipped: the ppc64le cross compiler cannot be installed here (see above)' };
  }
  if (cross.status !== 0) return { name: 'POWER', passed: 0, failed: 1, skipped: 0, seconds: cross.seconds, note: 'the ppc64le cross build failed' };

  banner('POWER suite: boot the emulated POWER host and run test/power in it');
  const { status, seconds } = run('bash', [join(root, 'scripts', 'power-host', 'run.sh'), '--', 'node', 'test/power/run.mjs']);
  const output = join(root, '.cache', 'power-host', 'results', 'output.log');
  if (status === CANNOT_PROVISION) {
    return { name: 'POWER', passed: 0, failed: 0, skipped: 1, seconds, note: 'skipped: the emulated POWER host cannot be provisioned here (not root or no package access; see above)' };
  }
  const counts = existsSync(output) ? tapCounts(readFileSync(output, 'utf8')) : { passed: NaN, failed: NaN, skipped: 0 };
  if (Number.isNaN(counts.passed) || Number.isNaN(counts.failed)) {
    return { name: 'POWER', passed: 0, failed: 1, skipped: 0, seconds, note: `the emulated host gave no test summary (run.sh exit ${status})` };
  }
  const failed = counts.failed + (status !== 0 && counts.failed === 0 ? 1 : 0);
  return { name: 'POWER', ...counts, failed, seconds, ...(status !== 0 && counts.failed === 0 ? { note: `run.sh exited ${status}` } : {}) };
}

mkdirSync(resultsDir, { recursive: true });
const suites = [];
if (!buildTypeScript()) {
  suites.push({ name: 'build', passed: 0, failed: 1, skipped: 0, seconds: 0, note: 'tsc failed' });
} else {
  suites.push(hostSuite());
  suites.push(asanSuite());
  if (process.env.KVM_VFIO_SPAPR_SKIP_POWER === '1') {
    suites.push({ name: 'POWER', passed: 0, failed: 0, skipped: 1, seconds: 0, note: 'skipped: KVM_VFIO_SPAPR_SKIP_POWER=1' });
  } else {
    suites.push(powerSuite());
  }
}

const total = suites.reduce((sum, suite) => ({ passed: sum.passed + suite.passed, failed: sum.failed + suite.failed }), { passed: 0, failed: 0 });
banner('summary');
for (const suite of suites) {
  console.log(`  ${suite.name.padEnd(6)} ${suite.passed} passed, ${suite.failed} failed, ${suite.skipped} skipped (${suite.seconds.toFixed(0)} s)${suite.note ? ` — ${suite.note}` : ''}`);
}
writeFileSync(join(resultsDir, 'summary.json'), `${JSON.stringify({ ...total, suites }, null, 2)}\n`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exitCode = total.failed > 0 ? 1 : 0;
