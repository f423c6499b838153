// Runs every test/power/*.test.mjs in this one Node process (Node start-up costs ~5 s in the emulated guest,
// so no process per file). node:test prints TAP when stdout is not a terminal, ending with "# pass N" and
// "# fail N"; the exit code is 1 when a test failed.
//   Inside the guest: scripts/power-host/run.sh -- node test/power/run.mjs
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((name) => name.endsWith('.test.mjs'))
  .sort();

if (files.length === 0) {
  console.error(`no *.test.mjs files in ${here}`);
  process.exit(1);
}
for (const name of files) {
  await import(pathToFileURL(join(here, name)).href);
}
