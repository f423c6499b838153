// Runs every test/power/*.test.mjs in this one Node process (Node start-up costs ~5 s in the emulated guest,
// so no process per file). node:test prints TAP when stdout is not a terminal, ending with "# pass N" and
// "# fail N"; the exit code is 1 when a test failed.
//   Inside the guest: scripts/power-host/run.sh -- node test/power/run.mjs [NAME...]
// With NAMEs, only the files whose names contain one of them run (zz-kernel-warn.test.mjs, which
// checks that nothing before it made the kernel WARN, always runs last).
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import test from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith('.test.mjs'))
  .filter((name) => filters.length === 0 || name.startsWith('zz-') || filters.some((filter) => name.includes(filter)))
  .sort();

if (files.length === 0) {
  console.error(`no *.test.mjs files in ${here}`);
  process.exit(1);
}
// node:test runs the root's tests one at a time, in the order they are registered. This test is registered
// first and holds the queue until every file has been imported, so no test runs while the runner still
// opens files (tests that compare fd tables before and after a call would see the loader's fds).
let loaded;
const importFailures = new Promise((resolve) => { loaded = resolve; });
test('the runner imports every test file before any test runs', async () => {
  assert.deepEqual(await importFailures, [], 'test files that failed to import');
});
const failures = [];
for (const name of files) {
  try {
    await import(pathToFileURL(join(here, name)).href);
  } catch (error) {
    failures.push(`${name}: ${error?.stack ?? error}`);
  }
}
loaded(failures);
