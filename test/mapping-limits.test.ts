// Mappings larger than the largest ArrayBuffer this Node makes (buffer.constants.MAX_LENGTH, 4 GiB on
// Node 18 and 20): refused before mmap by the library, and survivable in the native layer.
import { spawnSync } from 'node:child_process';
import { constants as bufferConstants } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { GuestMemory, pageSize, traceSyscalls } from '../dist/index.js';

const nativeUrl = new URL('../dist/native.js', import.meta.url).href;
const indexUrl = new URL('../dist/index.js', import.meta.url).href;
const page = BigInt(pageSize());
const tooLarge = BigInt(bufferConstants.MAX_LENGTH) + page;

/** Runs an ES module snippet in a child Node; a crash there must not take the test process with it. */
function child(source: string, env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', source], { encoding: 'utf8', env });
}

describe('mappings above the largest ArrayBuffer', () => {
  it('GuestMemory.allocate refuses them with RangeError before any syscall', () => {
    const { error, syscalls } = traceSyscalls(() => GuestMemory.allocate(tooLarge));
    expect(error).toBeInstanceOf(RangeError);
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_OUT_OF_RANGE');
    expect((error as Error).message).toContain('the largest ArrayBuffer this Node makes');
    expect(syscalls).toEqual([]);
  });

  it('the native layer throws the error Node raised, does not crash, and unmaps (it used to free twice)', () => {
    const result = child(`
      import { readFileSync } from 'node:fs';
      const { native } = await import(${JSON.stringify(nativeUrl)});
      const vmSize = () => Number(/^VmSize:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = vmSize();
      let code;
      try { native.mapAnonymous(${tooLarge}n); } catch (error) { code = error.code; }
      for (let i = 0; i < 20; i += 1) { globalThis.gc(); await new Promise((r) => setTimeout(r, 5)); }
      console.log(JSON.stringify({ code, grownKiB: vmSize() - before }));
    `);
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    const { code, grownKiB } = JSON.parse(result.stdout) as { code: string; grownKiB: number };
    expect(code).toBe('ERR_BUFFER_TOO_LARGE');
    expect(grownKiB).toBeLessThan(Number(tooLarge / 1024n) / 2);
  });

  it('a size the address space cannot hold is ENOMEM from mmap, with a hint (RLIMIT_AS of 3 GB, 4 GiB asked)', () => {
    const env = { ...process.env };
    for (const name of ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'KVM_VFIO_SPAPR_ADDON']) delete env[name];
    const source = `
      const { GuestMemory } = await import(${JSON.stringify(indexUrl)});
      try { GuestMemory.allocate(${BigInt(bufferConstants.MAX_LENGTH) / page * page}n); console.log('allocated'); }
      catch (error) { console.log(JSON.stringify({ code: error.code, syscall: error.syscall, hint: error.hint })); }`;
    const result = spawnSync('sh', ['-c', `ulimit -v 3000000 && exec "${process.execPath}" --input-type=module -e "$0"`, source], { encoding: 'utf8', env });
    expect(result.stderr).toBe('');
    const error = JSON.parse(result.stdout) as { code: string; syscall: string; hint: string };
    expect(error.code).toBe('ENOMEM');
    expect(error.syscall).toBe('mmap');
    expect(error.hint).toContain('address space');
  });
});
