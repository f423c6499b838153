#!/usr/bin/env node
// npm's install step: use a matching prebuild when one is present, otherwise build the addon from
// source against this machine's Node headers. KVM_VFIO_SPAPR_BUILD_FROM_SOURCE=1 (or
// --from-source) forces a source build. Everything goes to standard error (make's output too):
// `npm install --json` writes its JSON to standard output.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGypScript, nodeHeadersDir } from './node-toolchain.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

function matchingPrebuild() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return undefined;
  const file = readdirSync(dir).find((name) => name.endsWith('.node'));
  return file ? join(dir, file) : undefined;
}

function buildFromSource() {
  const args = [nodeGypScript(), 'rebuild', `--nodedir=${nodeHeadersDir()}`];
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['inherit', 2, 'inherit'] });
  if (result.status !== 0) {
    console.error(
      'kvm-vfio-spapr: building the native addon failed. It needs g++, make and python3 ' +
        '(Debian: apt-get install g++ make python3) and the Node headers.',
    );
    process.exit(result.status ?? 1);
  }
}

const forced = process.argv.includes('--from-source') || process.env.KVM_VFIO_SPAPR_BUILD_FROM_SOURCE === '1';
if (process.platform !== 'linux') {
  console.error(`kvm-vfio-spapr: KVM and VFIO exist only on Linux; nothing to build on ${process.platform}.`);
} else if (!forced && matchingPrebuild()) {
  console.error(`kvm-vfio-spapr: using prebuild ${matchingPrebuild()}`);
} else {
  buildFromSource();
}
