// EventFd on this machine's real eventfd(2): counter semantics, non-blocking reads, the event-loop
// watch, semaphore mode, and the fd rules every library object keeps (O_CLOEXEC, idempotent close,
// no syscall after close).
import { describe, expect, it } from 'vitest';
import { EventFd, KvmVfioError, resourceStats, traceSyscalls } from '../dist/index.js';
import { O_CLOEXEC, fdFlags, newFds, openFds } from './helpers.js';

describe('EventFd', () => {
  it('is a CLOEXEC, non-blocking eventfd: read() gives the signalled sum and then 0n without blocking', () => {
    const before = openFds();
    using doorbell = EventFd.create();
    const [fd] = newFds(before);
    expect(fdFlags(fd!) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(doorbell.read()).toBe(0n);
    doorbell.signal();
    doorbell.signal(41n);
    expect(doorbell.read()).toBe(42n);
    expect(doorbell.read()).toBe(0n);
  });

  it('starts from options.initial, and in semaphore mode each read takes one', () => {
    using counter = EventFd.create({ initial: 3, semaphore: true });
    expect([counter.read(), counter.read(), counter.read(), counter.read()]).toEqual([1n, 1n, 1n, 0n]);
  });

  it('watch() delivers each signal on the event loop; unwatch() ends it; next() resolves once', async () => {
    using doorbell = EventFd.create();
    const seen: bigint[] = [];
    doorbell.watch((count) => seen.push(count));
    doorbell.signal(5n);
    await new Promise((resolve) => setTimeout(resolve, 20));
    doorbell.signal(7n);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([5n, 7n]);
    expect(() => doorbell.watch(() => {})).toThrow(expect.objectContaining({ code: 'ERR_KVM_EVENTFD_WATCHED' }));
    doorbell.unwatch();
    doorbell.unwatch();
    doorbell.signal(9n);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toEqual([5n, 7n]);
    expect(doorbell.read()).toBe(9n);
    const next = doorbell.next();
    setTimeout(() => doorbell.signal(2n), 5);
    expect(await next).toBe(2n);
  });

  it('a signal that would overflow the counter is EAGAIN from the kernel, with a hint (fs/eventfd.c eventfd_write)', () => {
    using counter = EventFd.create();
    counter.signal(0xffff_ffff_ffff_fffen);
    expect(() => counter.signal(1n)).toThrow(expect.objectContaining({ code: 'EAGAIN', syscall: 'write', hint: 'the counter would overflow: read it first' }));
    expect(counter.read()).toBe(0xffff_ffff_ffff_fffen);
  });

  it('refuses bad arguments before any syscall', () => {
    using doorbell = EventFd.create();
    const { syscalls, error } = traceSyscalls(() => {
      expect(() => EventFd.create({ initial: -1 })).toThrow(RangeError);
      expect(() => EventFd.create({ semaphore: 1 as never })).toThrow(TypeError);
      expect(() => doorbell.signal(0n)).toThrow(RangeError);
      expect(() => doorbell.signal(1 as never)).toThrow(TypeError);
      expect(() => doorbell.watch('x' as never)).toThrow(TypeError);
    });
    expect(error).toBeUndefined();
    expect(syscalls).toEqual([]);
  });

  it('close() is idempotent, ends a watch, and a closed EventFd refuses every call without a syscall', () => {
    const owned = resourceStats().ownedFds;
    const doorbell = EventFd.create();
    doorbell.watch(() => {});
    doorbell.close();
    doorbell.close();
    doorbell[Symbol.dispose]();
    expect(resourceStats().ownedFds).toBe(owned);
    const { syscalls, error } = traceSyscalls(() => {
      for (const call of [() => doorbell.read(), () => doorbell.signal(), () => doorbell.watch(() => {}), () => doorbell.next()]) {
        expect(call).toThrow(KvmVfioError);
        expect(call).toThrow(expect.objectContaining({ code: 'ERR_KVM_CLOSED' }));
      }
    });
    expect(error).toBeUndefined();
    expect(syscalls).toEqual([]);
  });
});
