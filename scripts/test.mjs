#!/usr/bin/env node
// npm test: tsc; the API docs (TypeDoc validation: every export documented); packaging (both
// prebuilds, then `npm pack` into .cache/pack/); the host suite (vitest, real syscalls on this machine,
// and the packed tarball installed without a compiler); the host suite again with the addon built
// with ASan + UBSan (scripts/asan.mjs); then the POWER suite inside the emulated POWER host (node:test
// on a real ppc64le kernel, also running the unpacked tarball), once per emulated host (6.12 and 6.1 in a
// pseries partition; POWER_HOSTS=ci, as .ci/run sets it, adds trixie's 6.12 and sid's kernel there and 6.12
// on bare-metal PowerNV; with --kernels, for npm run test:kernels: packaging and the POWER suite on every
// pinned kernel on both machines),
// provisioning what is missing. A suite
// that cannot run here (not root, no package access) prints why and counts as skipped, never as
// passed. Ends with one line "N passed, N failed" over every suite, also written to
// .cache/test-results/summary.json for .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const resultsDir = join(root, '.cache', 'test-results');
const packDir = join(root, '.cache', 'pack');
const CANNOT_PROVISION = 77;
const NO_CROSS_COMPILER = 3;

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
  banner('build: tsc (library and examples)');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return ['tsconfig.json', 'tsconfig.examples.json'].every((project) => run(process.execPath, [tsc, '-p', project]).status === 0);
}

function docsSuite() {
  banner('docs: TypeDoc into docs/api/ (fails on an undocumented export)');
  const { status, seconds } = run(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')]);
  return { name: 'docs', passed: status === 0 ? 1 : 0, failed: status === 0 ? 0 : 1, skipped: 0, seconds, ...(status === 0 ? {} : { note: 'npm run docs failed' }) };
}

/** Both prebuilds and the tarball the host and POWER suites install. `ppc64` says whether the POWER suite can run. */
function packageStep() {
  banner('package: prebuilds (linux-x64, cross-built linux-ppc64), then npm pack into .cache/pack/');
  const started = Date.now();
  const step = (fields) => ({ name: 'package', passed: 0, failed: 0, skipped: 0, seconds: (Date.now() - started) / 1000, ...fields });
  if (run(process.execPath, [join(root, 'scripts', 'prebuild.mjs'), 'linux-x64']).status !== 0) {
    return { suite: step({ failed: 1, note: 'the linux-x64 prebuild failed' }), ppc64: false };
  }
  const cross = run('bash', [join(root, 'scripts', 'build-ppc64.sh')]);
  if (cross.status === NO_CROSS_COMPILER || cross.status === CANNOT_PROVISION) {
    return { suite: step({ skipped: 1, note: 'skipped: the ppc64le cross compiler cannot be installed here (see above), so nothing was packed' }), ppc64: false };
  }
  if (cross.status !== 0) return { suite: step({ failed: 1, note: 'the ppc64le cross build failed' }), ppc64: false };
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(packDir, { recursive: true });
  if (run('npm', ['pack', '--pack-destination', packDir, '--foreground-scripts', '--loglevel=warn']).status !== 0) {
    return { suite: step({ failed: 1, note: 'npm pack failed' }), ppc64: true };
  }
  return { suite: step({ note: 'prebuilds/ and .cache/pack/' }), ppc64: true };
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

/**
 * The emulated hosts the POWER suite runs on: a kernel scripts/power-host/config.sh pins
 * (POWER_HOST_KERNEL) on a machine run.sh boots (POWER_HOST_MACHINE: a pseries partition or bare-metal
 * PowerNV). npm test runs DEFAULT_HOSTS, test:kernels all of them.
 */
const ALL_HOSTS = [
  { kernel: '6.12', machine: 'pseries' }, { kernel: '6.1', machine: 'pseries' }, { kernel: 'trixie', machine: 'pseries' },
  { kernel: 'sid', machine: 'pseries' },
  { kernel: '6.12', machine: 'powernv9' }, { kernel: '6.1', machine: 'powernv9' }, { kernel: 'trixie', machine: 'powernv9' },
  { kernel: 'sid', machine: 'powernv9' },
];
const DEFAULT_HOSTS = ALL_HOSTS.filter((host) => ['6.12', '6.1'].includes(host.kernel) && host.machine === 'pseries');
/**
 * POWER_HOSTS picks the set: npm test runs 'default' (the two bookworm partitions, about 17 min); .ci/run
 * 'ci', every kernel on pseries and 6.12 on PowerNV (about 30 min more; measured 2026-12-07: PowerNV
 * 726 s, sid 521 s); npm run test:kernels 'all', every kernel on both machines (about 20 min more again).
 */
const HOST_SETS = {
  default: DEFAULT_HOSTS,
  ci: ALL_HOSTS.filter((host) => host.machine === 'pseries' || host.kernel === '6.12'),
  all: ALL_HOSTS,
};

/** Where run.sh leaves a host's results (config.sh RESULTS_RELATIVE). */
function powerResults({ kernel, machine }) {
  const kernelCache = kernel === '6.12' ? join(root, '.cache', 'power-host') : join(root, '.cache', 'power-host', 'kernels', kernel);
  return join(kernelCache, machine === 'pseries' ? 'results' : `results-${machine}`);
}

function powerSuite(host) {
  const { kernel, machine } = host;
  const name = `POWER ${kernel}${machine === 'pseries' ? '' : ` ${machine}`}`;
  banner(`POWER suite on Linux ${kernel}, ${machine}: boot the emulated POWER host (POWER_HOST_KERNEL=${kernel} POWER_HOST_MACHINE=${machine}) and run test/power in it`);
  if (run(process.execPath, [join(root, 'bench', 'build-probe.mjs'), 'linux-ppc64']).status !== 0) {
    return { name, passed: 0, failed: 1, skipped: 0, seconds: 0, note: "bench/'s probe addon (the fuzzer's FdProbe) did not cross-build" };
  }
  const env = { ...process.env, POWER_HOST_KERNEL: kernel, POWER_HOST_MACHINE: machine };
  const { status, seconds } = run('bash', [join(root, 'scripts', 'power-host', 'run.sh'), '--timeout', process.env.POWER_HOST_TIMEOUT ?? '2400', '--', 'node', 'test/power/run.mjs'], { env });
  const output = join(powerResults(host), 'output.log');
  if (status === CANNOT_PROVISION) {
    return { name, passed: 0, failed: 0, skipped: 1, seconds, note: 'skipped: the emulated POWER host cannot be provisioned here (not root, no package access, or the suite no longer serves the pinned kernel; see above)' };
  }
  const counts = existsSync(output) ? tapCounts(readFileSync(output, 'utf8')) : { passed: NaN, failed: NaN, skipped: 0 };
  if (Number.isNaN(counts.passed) || Number.isNaN(counts.failed)) {
    return { name, passed: 0, failed: 1, skipped: 0, seconds, note: `the emulated host gave no test summary (run.sh exit ${status})` };
  }
  const failed = counts.failed + (status !== 0 && counts.failed === 0 ? 1 : 0);
  return { name, ...counts, failed, seconds, ...(status !== 0 && counts.failed === 0 ? { note: `run.sh exited ${status}` } : {}) };
}

mkdirSync(resultsDir, { recursive: true });
const suites = [];
const kernelsOnly = process.argv.includes('--kernels');
if (!buildTypeScript()) {
  suites.push({ name: 'build', passed: 0, failed: 1, skipped: 0, seconds: 0, note: 'tsc failed' });
} else {
  if (!kernelsOnly) suites.push(docsSuite());
  const packaging = packageStep();
  suites.push(packaging.suite);
  if (!kernelsOnly) suites.push(hostSuite(), asanSuite());
  const hostSet = kernelsOnly ? 'all' : (process.env.POWER_HOSTS ?? 'default');
  const hosts = HOST_SETS[hostSet];
  if (hosts === undefined) {
    suites.push({ name: 'POWER', passed: 0, failed: 1, skipped: 0, seconds: 0, note: `POWER_HOSTS=${hostSet} is not one of: ${Object.keys(HOST_SETS).join(' ')}` });
  } else if (process.env.KVM_VFIO_SPAPR_SKIP_POWER === '1') {
    suites.push({ name: 'POWER', passed: 0, failed: 0, skipped: 1, seconds: 0, note: 'skipped: KVM_VFIO_SPAPR_SKIP_POWER=1' });
  } else if (!packaging.ppc64) {
    suites.push({ name: 'POWER', passed: 0, failed: 0, skipped: 1, seconds: 0, note: 'skipped: no linux-ppc64 prebuild (see the package step)' });
  } else {
    for (const host of hosts) suites.push(powerSuite(host));
  }
}

const total = suites.reduce((sum, suite) => ({ passed: sum.passed + suite.passed, failed: sum.failed + suite.failed }), { passed: 0, failed: 0 });
banner('summary');
for (const suite of suites) {
  console.log(`  ${suite.name.padEnd(19)} ${suite.passed} passed, ${suite.failed} failed, ${suite.skipped} skipped (${suite.seconds.toFixed(0)} s)${suite.note ? ` — ${suite.note}` : ''}`);
}
writeFileSync(join(resultsDir, 'summary.json'), `${JSON.stringify({ ...total, suites }, null, 2)}\n`);
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exitCode = total.failed > 0 ? 1 : 0;
