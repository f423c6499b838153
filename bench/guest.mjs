// The guest part of npm run bench, run inside the emulated POWER host (Node 18, ppc64le) by
// bench/run.mjs through scripts/power-host/run.sh:
//   node --expose-gc bench/guest.mjs <out.json> <C program> [<dir with koffi's ppc64le build>]
// Each section runs once, in this one process, and its figures (or its error) go into <out.json>.
import { writeFileSync } from 'node:fs';
import { Kvm } from '../dist/index.js';
import { measureDeviceClose } from './device-close.mjs';
import { measureGuestCalls } from './guest-calls.mjs';
import { measureGuestGrowth } from './guest-growth.mjs';
import { measureGroupScaling, measureTableScaling } from './guest-scaling.mjs';
import { measureEventLoop, measureSetup } from './guest-setup.mjs';

const [outPath, cProgram, koffiFrom] = process.argv.slice(2);
const budgetSeconds = Number(process.env.BENCH_GUEST_BUDGET ?? 1);
const results = { node: process.version, arch: process.arch, startedAt: new Date().toISOString(), sections: {} };

async function section(name, run) {
  const started = Date.now();
  console.error(`bench (guest): ${name}...`);
  try {
    results.sections[name] = { ok: true, value: await run() };
  } catch (error) {
    results.sections[name] = { ok: false, error: String(error?.stack ?? error) };
    console.error(`bench (guest): ${name} failed: ${error?.message ?? error}`);
  }
  results.sections[name].seconds = (Date.now() - started) / 1000;
  writeFileSync(outPath, `${JSON.stringify(results, jsonBigInt, 2)}\n`);
}

function jsonBigInt(key, value) {
  return typeof value === 'bigint' ? Number(value) : value;
}

await section('calls', async () => {
  const { ns, notes, koffiVersion } = await measureGuestCalls({ cProgram, cGroup: 2, koffiFrom });
  return { ns: Object.fromEntries(ns), notes: Object.fromEntries(notes), koffiVersion };
});
await section('setup', () => measureSetup({ group: 1, cycles: 5 }));
await section('eventLoop', () => measureEventLoop({ group: 2 }));
await section('deviceClose', () => measureDeviceClose({ Kvm }));
await section('scalingGroups', () => measureGroupScaling());
await section('scalingTables', () => measureTableScaling());
await section('growth', () => measureGuestGrowth({ budgetMs: 12_000 * budgetSeconds, maxCycles: 100_000 }));
results.finishedAt = new Date().toISOString();
writeFileSync(outPath, `${JSON.stringify(results, jsonBigInt, 2)}\n`);
const failed = Object.entries(results.sections).filter(([, entry]) => !entry.ok).map(([name]) => name);
console.error(`bench (guest): done${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;
