#!/usr/bin/env node
// The long variants that CI does not run (npm test runs short, fixed-seed versions of the same tests):
//   npm run fuzz        100,000+ host calls, then 10,000 calls on the kernel objects in the emulated
//                       POWER host; `npm run fuzz -- --guest-seconds 600` (or
//                       KVM_VFIO_SPAPR_POWER_FUZZ_SECONDS=600) ends the guest's share after 600 s
//                       even if its count is not reached, KVM_VFIO_SPAPR_FUZZ_SECONDS the host's
//   npm run test:leaks  10,000 open/close cycles per kind and 1,000 attach/detach cycles there
// Counts and the seed come from the environment (defaults below); the seed is printed so a failing
// run can be repeated. The fuzzers print progress (calls done, rate, time left) to standard error
// every 5 s. README.md "How long the long runs take" has the durations. Ends with one line
// "N passed, N failed" like npm test.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const CANNOT_PROVISION = 77;
const flag = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const guestFuzzSeconds = flag('--guest-seconds') ?? process.env.KVM_VFIO_SPAPR_POWER_FUZZ_SECONDS;

const RUNS = {
  fuzz: {
    hostFile: 'test/fuzz.test.ts',
    guestFilter: 'fuzz',
    env: {
      KVM_VFIO_SPAPR_FUZZ_CALLS: process.env.KVM_VFIO_SPAPR_FUZZ_CALLS ?? '100000',
      KVM_VFIO_SPAPR_FUZZ_SEED: process.env.KVM_VFIO_SPAPR_FUZZ_SEED ?? String(Date.now() % 1_000_000),
    },
    guestEnv: {
      KVM_VFIO_SPAPR_FUZZ_CALLS: process.env.KVM_VFIO_SPAPR_POWER_FUZZ_CALLS ?? '10000',
      ...(guestFuzzSeconds ? { KVM_VFIO_SPAPR_FUZZ_SECONDS: guestFuzzSeconds } : {}),
    },
  },
  leaks: {
    hostFile: 'test/leaks.test.ts',
    guestFilter: 'leaks',
    env: { KVM_VFIO_SPAPR_LEAK_CYCLES: process.env.KVM_VFIO_SPAPR_LEAK_CYCLES ?? '10000' },
    guestEnv: {
      KVM_VFIO_SPAPR_ATTACH_CYCLES: process.env.KVM_VFIO_SPAPR_ATTACH_CYCLES ?? '1000',
      KVM_VFIO_SPAPR_ATTACH_CYCLES_1G: process.env.KVM_VFIO_SPAPR_ATTACH_CYCLES_1G ?? '200',
    },
  },
};

function run(command, args, env = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return { status: result.status ?? 1, seconds: (Date.now() - started) / 1000 };
}

const name = process.argv[2];
const plan = RUNS[name];
if (!plan) {
  console.error(`usage: node scripts/long-run.mjs ${Object.keys(RUNS).join('|')}`);
  process.exit(64);
}
const listed = (env) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
console.log(`==> ${name}: host ${listed(plan.env)}; POWER ${listed(plan.guestEnv)}`);

const host = run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', plan.hostFile], plan.env);

const cross = run('bash', [join(root, 'scripts', 'build-ppc64.sh')]);
let power = { status: CANNOT_PROVISION, seconds: 0 };
if (cross.status === 0 && run(process.execPath, [join(root, 'bench', 'build-probe.mjs'), 'linux-ppc64']).status === 0) {
  const guestEnv = { ...plan.env, ...plan.guestEnv };
  const assignments = Object.entries(guestEnv).map(([k, v]) => `${k}=${Number(v)}`).join(' ');
  power = run('bash', [join(root, 'scripts', 'power-host', 'run.sh'), '--timeout', '7200', '--', 'sh', '-c', `${assignments} node test/power/run.mjs ${plan.guestFilter}`]);
}
const output = join(root, '.cache', 'power-host', 'results', 'output.log');
const tap = existsSync(output) ? readFileSync(output, 'utf8') : '';
const count = (label) => Number(tap.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0);

console.log(`\n==> ${name} summary`);
console.log(`  host   exit ${host.status} (${host.seconds.toFixed(0)} s)`);
console.log(power.status === CANNOT_PROVISION
  ? '  POWER  skipped: the emulated POWER host cannot be provisioned here'
  : `  POWER  exit ${power.status}, ${count('pass')} passed, ${count('fail')} failed (${power.seconds.toFixed(0)} s)`);
const failed = (host.status === 0 ? 0 : 1) + (power.status === 0 || power.status === CANNOT_PROVISION ? 0 : 1);
console.log(`${2 - failed - (power.status === CANNOT_PROVISION ? 1 : 0)} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
