#!/usr/bin/env node
// npm run test:asan: builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer (the
// compiler's own runtimes: Debian's gcc ships libasan and libubsan) into .cache/asan/, then runs
// the host suite with it (KVM_VFIO_SPAPR_ADDON) and the ASan runtime preloaded into every Node
// process the suite starts. Any sanitizer report fails the run: ASan writes them to
// .cache/asan/reports/, UBSan (which stops at the first) to stderr, which is scanned.
//   --report FILE   also write { passed, failed, skipped, reports, note } as JSON (scripts/test.mjs)
//   -- ARGS         passed to vitest (e.g. a test file)
// Exit codes: 0 clean, 1 test failures or reports, 77 cannot run here (no sanitizer runtime).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypScript, nodeHeadersDir } from './node-toolchain.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const work = join(root, '.cache', 'asan');
const reportsDir = join(work, 'reports');
const CANNOT_RUN = 77;
const SANITIZE = '-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1';

const reportArg = process.argv.indexOf('--report');
const reportFile = reportArg > 0 ? resolve(process.argv[reportArg + 1]) : undefined;
const dashes = process.argv.indexOf('--');
const vitestArgs = dashes > 0 ? process.argv.slice(dashes + 1) : [];

function finish(summary, code) {
  if (reportFile) writeFileSync(reportFile, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`${summary.passed} passed, ${summary.failed} failed${summary.note ? ` — ${summary.note}` : ''}`);
  process.exit(code);
}

const compiler = process.env.CXX || 'g++';

/** The sanitizer runtime the compiler links against, or undefined. */
function runtime(name) {
  const result = spawnSync(compiler, [`-print-file-name=${name}`], { encoding: 'utf8' });
  const path = result.stdout?.trim();
  return result.status === 0 && path && path !== name && existsSync(path) ? path : undefined;
}

/** Debian installs the runtimes with the compiler (libgcc-N-dev depends on libasanN, libubsanN); install them when missing. */
function ensureRuntimes() {
  if (runtime('libasan.so') && runtime('libubsan.so')) return true;
  if (process.getuid?.() !== 0) return false;
  const version = spawnSync(compiler, ['-dumpversion'], { encoding: 'utf8' }).stdout?.trim().split('.')[0];
  const packages = [`libgcc-${version}-dev`];
  console.log(`==> installing the sanitizer runtimes: apt-get install ${packages.join(' ')}`);
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return Boolean(runtime('libasan.so') && runtime('libubsan.so'));
}

/** A copy of the package's build inputs in .cache/asan, so build/Release stays the normal addon. */
function buildSanitized() {
  rmSync(join(work, 'build'), { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  copyFileSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
  for (const link of ['native', 'node_modules']) {
    if (!existsSync(join(work, link))) symlinkSync(join(root, link), join(work, link));
  }
  console.log(`==> building the addon with ${SANITIZE}`);
  const env = { ...process.env, CFLAGS: SANITIZE, CXXFLAGS: SANITIZE, LDFLAGS: '-fsanitize=address,undefined' };
  const result = spawnSync(process.execPath, [nodeGypScript(), 'rebuild', `--nodedir=${nodeHeadersDir()}`], { cwd: work, stdio: 'inherit', env });
  const addon = join(work, 'build', 'Release', 'kvm_vfio_spapr.node');
  if (result.status !== 0 || !existsSync(addon)) return undefined;
  const symbols = spawnSync('nm', ['-D', '--undefined-only', addon], { encoding: 'utf8' }).stdout ?? '';
  if (!symbols.includes('__asan_report') || !symbols.includes('__ubsan_handle')) {
    console.error('the sanitized build has no ASan/UBSan instrumentation');
    return undefined;
  }
  return addon;
}

function reports() {
  if (!existsSync(reportsDir)) return [];
  return readdirSync(reportsDir).map((name) => ({ name, text: readFileSync(join(reportsDir, name), 'utf8') }));
}

if (!ensureRuntimes()) {
  finish({ passed: 0, failed: 0, skipped: 1, reports: 0, note: `skipped: no libasan/libubsan for ${compiler} (install libgcc-N-dev as root)` }, CANNOT_RUN);
}
const addon = buildSanitized();
if (!addon) finish({ passed: 0, failed: 1, skipped: 0, reports: 0, note: 'the sanitized build failed' }, 1);

rmSync(reportsDir, { recursive: true, force: true });
mkdirSync(reportsDir, { recursive: true });
const jsonReport = join(work, 'vitest.json');
rmSync(jsonReport, { force: true });
console.log('==> host suite with the sanitized addon');
const env = {
  ...process.env,
  KVM_VFIO_SPAPR_ADDON: addon,
  LD_PRELOAD: runtime('libasan.so'),
  // Node itself is not built with ASan: leaks at its exit are not ours to judge (detect_leaks=0).
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:abort_on_error=1:allow_user_segv_handler=1:log_path=${join(reportsDir, 'asan')}`,
  UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:log_path=${join(reportsDir, 'ubsan')}`,
};
/** Runs vitest, streaming its output and collecting UBSan's "runtime error" lines (UBSan ignores log_path here). */
function runVitest() {
  return new Promise((resolveRun) => {
    const ubsan = [];
    const child = spawn(process.execPath, [
      join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${jsonReport}`, ...vitestArgs,
    ], { cwd: root, stdio: ['inherit', 'pipe', 'pipe'], env });
    const scan = (target) => (chunk) => {
      target.write(chunk);
      for (const line of chunk.toString().split('\n')) if (/runtime error: /.test(line)) ubsan.push(line.trim());
    };
    child.stdout.on('data', scan(process.stdout));
    child.stderr.on('data', scan(process.stderr));
    child.on('close', (status) => resolveRun({ status, ubsan }));
  });
}

const vitest = await runVitest();
const found = [...reports(), ...vitest.ubsan.map((line, i) => ({ name: `ubsan (stderr) #${i + 1}`, text: line }))];
for (const report of found) console.error(`\n==> sanitizer report ${report.name}\n${report.text}`);
if (!existsSync(jsonReport)) finish({ passed: 0, failed: 1, skipped: 0, reports: found.length, note: `vitest exited ${vitest.status} without a report` }, 1);
const json = JSON.parse(readFileSync(jsonReport, 'utf8'));
const failed = json.numFailedTests + found.length + (vitest.status !== 0 && json.numFailedTests === 0 && found.length === 0 ? 1 : 0);
finish({
  passed: json.numPassedTests,
  failed,
  skipped: json.numPendingTests + json.numTodoTests,
  reports: found.length,
  note: found.length > 0 ? `${found.length} sanitizer report(s), printed above` : 'ASan + UBSan: no reports',
}, failed > 0 ? 1 : 0);
