#!/usr/bin/env node
// npm run bench: the whole performance report in one run (issue 6).
//   1. x86 host, per call: the hot calls through the public API (FIONREAD twins), the in-process
//      floor, a separate C program, koffi, ffi-napi, pure-JS errors          (host-calls.mjs)
//   1b. x86 host with a usable /dev/kvm, in a process of its own: the real KVM ioctls x86 answers,
//      the same peers, the KVM-VFIO device's close, sync vs async, for the event loop (host-kvm.mjs),
//      and the exit path: port I/O and MMIO exits answered in C, by runSync() and by run() (x86-exits.mjs)
//   2. x86 host: user-space instructions per call under callgrind              (callgrind.mjs)
//   3. x86 host: RSS and fds over 100k create/close cycles per object kind     (growth.mjs)
//   4. the emulated POWER host, booted once: real KVM calls and a static C program, attach +
//      detach cost and syscalls, event-loop delay, growth, scaling             (guest.mjs)
// Prints one table, writes bench/results.json (rows: name, nsPerCall, overheadNs, ...) and
// bench/results.svg. Options: --host-only (skip the emulated host), --guest-results FILE (reuse a
// guest run instead of booting one).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProbe } from './build-probe.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const cacheDir = join(root, '.cache', 'bench');
const args = process.argv.slice(2);
const hostOnly = args.includes('--host-only');
const reusedGuest = args.includes('--guest-results') ? args[args.indexOf('--guest-results') + 1] : undefined;
const GUEST_MEMORY = '4G';
const GUEST_EXTRA_GROUPS = '14'; // groups 4..17: 16 viable groups with 1 and 2
const GUEST_TIMEOUT_S = 2400;

function otherQemus() {
  const result = spawnSync('pgrep', ['-c', 'qemu-system'], { encoding: 'utf8' });
  return Number((result.stdout || '0').trim()) || 0;
}

function conditions(phase) {
  return { [`load${phase}`]: loadavg().map((value) => Number(value.toFixed(2))), [`qemuProcesses${phase}`]: otherQemus() };
}

/** The library as built (dist/ and its addon), and bench/'s probe addon, built when older than its sources. */
function checkAddon() {
  try {
    execFileSync(process.execPath, ['-e', `import(${JSON.stringify(join(root, 'dist', 'index.js'))})`], { stdio: 'pipe' });
  } catch {
    console.error('bench: the built addon or dist/ is missing: run npm run build:addon (or npm install) first');
    process.exit(1);
  }
  buildProbe();
}

function hostGrowth() {
  console.error('bench: growth on the host (100,000 create/close cycles per kind)...');
  const child = spawnSync(process.execPath, ['--expose-gc', join(benchDir, 'growth.mjs'), '100000'], { encoding: 'utf8', maxBuffer: 16 << 20 });
  try {
    return JSON.parse(child.stdout.trim().split('\n').pop());
  } catch {
    return { reason: `growth run failed: ${(child.stderr || '').trim().split('\n').slice(-1)[0]}` };
  }
}

/** host-kvm.mjs in a process of its own (the FIONREAD rows swap natives in this one). */
function hostKvmCalls(peersProblem) {
  const child = spawnSync(process.execPath, [join(benchDir, 'host-kvm.mjs'), ...(peersProblem ? [peersProblem] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  try {
    return JSON.parse(child.stdout.trim().split('\n').pop());
  } catch {
    return { reason: `the real-KVM run failed (exit ${child.status})` };
  }
}

function buildForGuest() {
  const binary = join(cacheDir, 'kvm_calls-ppc64le');
  execFileSync('powerpc64le-linux-gnu-gcc', ['-O2', '-static', '-o', binary, join(benchDir, 'c', 'kvm_calls.c')]);
  execFileSync('bash', [join(root, 'scripts', 'build-ppc64.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  buildProbe('linux-ppc64');
  return binary;
}

/**
 * koffi's linux-ppc64 build for the guest, the same version as bench/'s own, in
 * .cache/bench/guest-peers (npm install --cpu=ppc64 --os=linux; never committed). Returns the
 * directory, or undefined when it cannot be had.
 */
function installGuestKoffi() {
  const dir = join(cacheDir, 'guest-peers');
  const version = JSON.parse(readFileSync(join(benchDir, 'package.json'), 'utf8')).dependencies.koffi;
  if (existsSync(join(dir, 'node_modules', '@koromix', 'koffi-linux-ppc64'))) return dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "name": "kvm-vfio-spapr-guest-peers", "private": true }\n');
  console.error(`bench: installing koffi ${version}'s linux-ppc64 build for the emulated POWER host...`);
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--cpu=ppc64', '--os=linux', `koffi@${version}`], { cwd: dir, encoding: 'utf8' });
  return result.status === 0 && existsSync(join(dir, 'node_modules', '@koromix', 'koffi-linux-ppc64')) ? dir : undefined;
}

/** Boots the emulated POWER host once and runs guest.mjs; returns its results or { reason }. */
function runGuest() {
  if (reusedGuest) return JSON.parse(readFileSync(reusedGuest, 'utf8'));
  if (hostOnly) return { reason: 'skipped (--host-only)' };
  let binary;
  try {
    binary = buildForGuest();
  } catch (error) {
    return { reason: `could not build for ppc64le: ${String(error.message).split('\n')[0]}` };
  }
  const koffiDir = installGuestKoffi();
  const out = join(cacheDir, 'guest-results.json');
  const log = join(cacheDir, 'guest-run.log');
  console.error(`bench: booting the emulated POWER host (${GUEST_MEMORY}, ${Number(GUEST_EXTRA_GROUPS) + 2} viable VFIO groups); about 5 minutes; console in ${relative(root, log)}...`);
  const run = spawnSync('bash', [join(root, 'scripts', 'power-host', 'run.sh'), '--timeout', String(GUEST_TIMEOUT_S), '--',
    'node', '--expose-gc', 'bench/guest.mjs', relative(root, out), relative(root, binary), ...(koffiDir ? [relative(root, koffiDir)] : [])], {
    cwd: root,
    env: { ...process.env, POWER_HOST_MEMORY: GUEST_MEMORY, POWER_HOST_EXTRA_GROUPS: GUEST_EXTRA_GROUPS },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  writeFileSync(log, `${run.stdout ?? ''}${run.stderr ?? ''}`);
  const reasons = { 77: 'the emulated POWER host cannot be provisioned here (not root, or packages unavailable)', 124: 'the emulated POWER host timed out', 125: 'the emulated POWER host failed (infrastructure)' };
  if (!existsSync(out) || reasons[run.status]) return { reason: reasons[run.status] ?? `the guest run wrote no results (exit ${run.status}; see ${relative(root, log)})` };
  return JSON.parse(readFileSync(out, 'utf8'));
}

mkdirSync(cacheDir, { recursive: true });
checkAddon();
const { buildRows, hostExitRatioLine, printTable } = await import('./report.mjs');
const { renderChart } = await import('./chart.mjs');
const { compileCProgram, ensurePeersInstalled, measureHostCalls } = await import('./host-calls.mjs');
const { measureInstructions } = await import('./callgrind.mjs');

const started = { date: new Date().toISOString(), node: process.version, host: `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}`, ...conditions('AtStart') };
const peersProblem = ensurePeersInstalled();
const host = await measureHostCalls({ peersProblem });
const hostKvm = hostKvmCalls(peersProblem);
const instructions = measureInstructions({ cBinary: compileCProgram(), peersProblem });
const growth = hostGrowth();
const guest = runGuest();
const runConditions = { ...started, ...conditions('AtEnd'), guest: guest.reason ?? `Node ${guest.node} ${guest.arch}, ${guest.startedAt} → ${guest.finishedAt}` };

const rows = buildRows({ host, hostKvm, instructions, hostGrowth: growth, guest, conditions: runConditions });
console.log(`npm run bench — ${runConditions.date}, ${runConditions.host}, Node ${runConditions.node}; load ${runConditions.loadAtStart.join(' ')} → ${runConditions.loadAtEnd.join(' ')}, qemu processes ${runConditions.qemuProcessesAtStart} → ${runConditions.qemuProcessesAtEnd} (ours included); guest: ${runConditions.guest}`);
printTable(rows);
const exitRatio = hostExitRatioLine(hostKvm);
if (exitRatio) console.log(`\n${exitRatio}`);
writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
writeFileSync(join(benchDir, 'results.svg'), renderChart(rows));
console.log('\nwrote bench/results.json and bench/results.svg');
