#!/usr/bin/env node
// npm's prepack step (npm pack, npm publish): refuses to pack without both prebuilds, then rebuilds
// what the tarball ships from a clean dist/: the library, the examples (dist/examples/) and the API
// reference (docs/api/, whose validation fails on an undocumented export). Everything it and its
// children print goes to standard error: `npm pack --json` writes its JSON to standard output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const SHIPPED_PREBUILDS = ['linux-x64', 'linux-ppc64'];

function hasPrebuild(target) {
  const dir = join(root, 'prebuilds', target);
  return existsSync(dir) && readdirSync(dir).some((name) => name.endsWith('.node'));
}

function run(label, script, args) {
  console.error(`prepack: ${label}`);
  const result = spawnSync(process.execPath, [join(root, 'node_modules', ...script), ...args], { cwd: root, stdio: ['inherit', 2, 'inherit'] });
  if (result.status !== 0) {
    console.error(`prepack: ${label} failed`);
    process.exit(result.status ?? 1);
  }
}

const missing = SHIPPED_PREBUILDS.filter((target) => !hasPrebuild(target));
if (missing.length > 0) {
  console.error(`prepack: no prebuild for ${missing.join(', ')} in prebuilds/; run 'npm run prebuild' first`);
  process.exit(1);
}
rmSync(join(root, 'dist'), { recursive: true, force: true });
rmSync(join(root, 'docs', 'api'), { recursive: true, force: true });
run('tsc (dist/)', ['typescript', 'bin', 'tsc'], ['-p', 'tsconfig.json']);
run('tsc (dist/examples/)', ['typescript', 'bin', 'tsc'], ['-p', 'tsconfig.examples.json']);
run('typedoc (docs/api/)', ['typedoc', 'bin', 'typedoc'], []);
