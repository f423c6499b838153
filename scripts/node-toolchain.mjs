// Where node-gyp and the Node headers are on this machine. Builds must never download headers:
// they use the headers installed with the running Node (or npm_config_nodedir when set).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function nodeHeadersDir() {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter(Boolean);
  for (const dir of candidates) {
    if (existsSync(join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  throw new Error(
    `No Node headers found (looked for include/node/node_api.h under ${candidates.join(', ')}). ` +
      'Install the Node development headers or set npm_config_nodedir.',
  );
}

export function nodeGypScript() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally (e.g. installed as a dependency): use npm's bundled node-gyp below
  }
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const found = candidates.find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`node-gyp not found (tried: ${candidates.join(', ') || 'nothing'})`);
  return found;
}
