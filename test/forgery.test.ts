// The library's internal factories and constructors are reachable from JavaScript (they are static
// methods of exported classes). None of them may make an object over an fd number: such an object
// would own an fd another object owns (two owners, EBADF or worse on a recycled number), or one the
// library never opened, whose finalizer then threw and ended the process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { KvmDevice, KvmVfioDevice, Linkage, RegionMapping, SpaprTceTable, Vcpu, VfioDevice, Vm, traceSyscalls } from '../dist/index.js';

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

const forgeries: [string, () => unknown][] = [
  ['Vm.fromOwnedFd', () => (Vm.fromOwnedFd as (...a: unknown[]) => unknown)(0, {}, 0)],
  ['KvmDevice.fromOwnedFd', () => (KvmDevice.fromOwnedFd as (...a: unknown[]) => unknown)(1, {}, 4)],
  ['KvmVfioDevice.fromOwnedVfioFd', () => (KvmVfioDevice.fromOwnedVfioFd as (...a: unknown[]) => unknown)(2, {})],
  ['SpaprTceTable.fromOwnedFd', () => (SpaprTceTable.fromOwnedFd as (...a: unknown[]) => unknown)(3, {}, { liobn: 1n }, false)],
  ['Vcpu.fromOwnedFd', () => (Vcpu.fromOwnedFd as (...a: unknown[]) => unknown)(5, {}, 0, 4096)],
  ['VfioDevice.fromOwnedFd', () => (VfioDevice.fromOwnedFd as (...a: unknown[]) => unknown)(4, {}, 'x')],
  ['new RegionMapping', () => new (RegionMapping as unknown as new (...a: unknown[]) => unknown)({ buffer: new ArrayBuffer(8), handle: {} }, 8n)],
  ['new Linkage', () => new (Linkage as unknown as new (...a: unknown[]) => unknown)({ liobn: 1n }, [])],
];

describe('objects cannot be forged', () => {
  it.each(forgeries)('%s throws ERR_ILLEGAL_CONSTRUCTOR without a syscall', (_name, forge) => {
    const { error, syscalls } = traceSyscalls(forge);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_ILLEGAL_CONSTRUCTOR');
    expect(syscalls).toEqual([]);
  });

  it('a forged object dropped without close() cannot end the process through its finalizer', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `
      const { KvmDevice } = await import(${JSON.stringify(indexUrl)});
      (() => { try { KvmDevice.fromOwnedFd(12345, {}, 1); } catch {} })();
      for (let i = 0; i < 5; i += 1) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log('alive');
    `], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('alive');
  });
});
