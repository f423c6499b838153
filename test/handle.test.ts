// Fd ownership, shown on /dev/null and a pipe through FdProbe (the same FdObject base as every kernel object):
// O_CLOEXEC, idempotent close, closed guards that issue no syscall, and the finalizer.
import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KvmVfioError, resourceStats } from '../dist/index.js';
import { FdProbe } from '../bench/probe.mjs';
import { native } from '../dist/native.js';
import { O_CLOEXEC, fdFlags, newFds, openFds, tracingSyscalls } from './helpers.js';

/** A probe owning a duplicate of a /dev/null fd (FIONREAD there is a real ENOTTY). */
function adoptDevNull(): { probe: FdProbe; fd: number; cleanup: () => void } {
  const borrowed = openSync('/dev/null', 'r');
  const before = openFds();
  const probe = FdProbe.adopt(borrowed);
  const [fd] = newFds(before);
  return { probe, fd: fd!, cleanup: () => closeSync(borrowed) };
}

describe('fd ownership', () => {
  it('every fd the library opens or duplicates is O_CLOEXEC', () => {
    const { probe, fd, cleanup } = adoptDevNull();
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    probe.close();
    cleanup();
    const before = openFds();
    const opened = native.openDevice('/dev/null');
    expect(newFds(before)).toEqual([opened]);
    expect(fdFlags(opened) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(native.closeFd(opened)).toBe(0);
  });

  it('close() and [Symbol.dispose]() are idempotent and release the fd once', () => {
    const { probe, fd, cleanup } = adoptDevNull();
    const owned = resourceStats().ownedFds;
    probe.close();
    probe.close();
    probe[Symbol.dispose]();
    expect(probe.closed).toBe(true);
    expect(openFds().has(fd)).toBe(false);
    expect(resourceStats().ownedFds).toBe(owned - 1);
    cleanup();
  });

  it('closeAsync() closes at once, without a syscall on this thread, releases the fd on the thread pool, and is idempotent', async () => {
    const { probe, fd, cleanup } = adoptDevNull();
    const owned = resourceStats().ownedFds;
    const { result: closing, error } = await tracingSyscalls(() => probe.closeAsync());
    expect(error).toBeUndefined();
    expect(probe.closed).toBe(true);
    expect(resourceStats().ownedFds).toBe(owned - 1); // out of the table at once: no call can reach the number
    expect(((await tracingSyscalls(() => probe.readableBytes())).error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
    await closing;
    expect(openFds().has(fd)).toBe(false);
    await probe.closeAsync();
    await probe[Symbol.asyncDispose]();
    probe.close();
    cleanup();
  });

  it('resourceStats().mappings counts the mappings the library made until each is unmapped', async () => {
    const { GuestMemory, pageSize } = await import('../dist/index.js');
    const before = resourceStats().mappings;
    const memory = GuestMemory.allocate(BigInt(pageSize()));
    expect(resourceStats().mappings).toBe(before + 1);
    memory.close();
    memory.close();
    expect(resourceStats().mappings).toBe(before);
  });

  it('a closed object throws ERR_KVM_CLOSED and issues no syscall, even when its fd number is reused', async () => {
    const { probe, fd, cleanup } = adoptDevNull();
    probe.close();
    const opened: number[] = [];
    while (opened.length < 256 && !opened.includes(fd)) opened.push(openSync('/dev/null', 'r'));
    expect(opened).toContain(fd);
    const { error, syscalls } = await tracingSyscalls(() => probe.readableBytes());
    expect(error).toBeInstanceOf(KvmVfioError);
    expect((error as KvmVfioError).code).toBe('ERR_KVM_CLOSED');
    expect((error as KvmVfioError).message).toContain('readableBytes() was called after close()');
    expect(syscalls).toBe(0);
    // The native layer refuses the number too: it is not one of the library's fds any more.
    expect(() => native.checkExtension(fd, 0)).toThrow(expect.objectContaining({ code: 'ERR_KVM_FD_NOT_OWNED' }));
    for (const other of opened) closeSync(other);
    cleanup();
  });

  it('a live object works and its calls are real syscalls', async () => {
    const { probe, cleanup } = adoptDevNull();
    const { error, syscalls } = await tracingSyscalls(() => probe.readableBytes());
    expect((error as KvmVfioError).code).toBe('ENOTTY');
    expect((error as KvmVfioError).request).toBe('FIONREAD');
    expect(syscalls).toBe(1);
    probe.close();
    cleanup();
  });

  it('an object dropped without close() has its fd closed by the finalizer, with one warning', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest runs with --expose-gc').toBeTypeOf('function');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const before = resourceStats();
    const fdsBefore = openFds().size;
    const borrowed = openSync('/dev/null', 'r');
    (() => {
      for (let i = 0; i < 20; i += 1) FdProbe.adopt(borrowed);
    })();
    expect(resourceStats().ownedFds).toBe(before.ownedFds + 20);
    for (let attempt = 0; attempt < 50 && resourceStats().ownedFds > before.ownedFds; attempt += 1) {
      gc!();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    process.off('warning', onWarning);
    closeSync(borrowed);
    expect(resourceStats().ownedFds).toBe(before.ownedFds);
    expect(resourceStats().closedByFinalizer).toBe(before.closedByFinalizer + 20);
    expect(openFds().size).toBe(fdsBefore);
    const ours = warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'KVM_VFIO_SPAPR_UNCLOSED');
    expect(ours.length).toBeLessThanOrEqual(1);
  });

  it('objects cannot be forged with a constructor and an arbitrary fd', () => {
    const Ctor = FdProbe as unknown as new (token: symbol, fd: number) => FdProbe;
    expect(() => new Ctor(Symbol('x'), 0)).toThrow(TypeError);
  });
});

describe('FIONREAD probe on a real pipe', () => {
  it('reports readable bytes', async () => {
    const { spawnSync } = await import('node:child_process');
    // A real pipe: this process's stdin in a child that inherits a pipe with 5 bytes waiting.
    const script = `
      const { FdProbe } = await import(${JSON.stringify(new URL('../bench/probe.mjs', import.meta.url).href)});
      const probe = FdProbe.adopt(0);
      await new Promise((r) => setTimeout(r, 100));
      console.log(probe.readableBytes());
      probe.close();`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: 'hello', encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('5');
  });
});

describe('writes are not our business', () => {
  it('the probe fd is independent of the caller fd (a duplicate)', () => {
    const write = openSync('/dev/null', 'w');
    const probe = FdProbe.adopt(write);
    probe.close();
    expect(() => writeSync(write, 'still open')).not.toThrow();
    closeSync(write);
  });
});
