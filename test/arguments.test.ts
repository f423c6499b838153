// Bad arguments throw TypeError / RangeError with Node's codes before any syscall.
import { describe, expect, it } from 'vitest';
import { Kvm } from '../dist/index.js';
import { FdProbe } from '../dist/internal/bench-probe.js';
import { tracingSyscalls } from './helpers.js';

async function expectRejectedWithoutSyscall(fn: () => unknown, type: ErrorConstructor, code: string) {
  const { error, syscalls } = await tracingSyscalls(fn);
  expect(error).toBeInstanceOf(type);
  expect((error as NodeJS.ErrnoException).code).toBe(code);
  expect(syscalls).toBe(0);
}

describe('argument validation before any syscall', () => {
  it.each([
    [123, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ toString: () => '/dev/kvm' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['', TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['/dev/kvm\u0000x', TypeError, 'ERR_INVALID_ARG_VALUE'],
  ])('Kvm.open(%j)', async (path, type, code) => {
    await expectRejectedWithoutSyscall(() => Kvm.open(path as string), type, code);
  });

  it.each([
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 31, RangeError, 'ERR_OUT_OF_RANGE'],
    [Number.NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    ['3', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [3n, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('Kvm.fromFd(%s)', async (fd, type, code) => {
    await expectRejectedWithoutSyscall(() => Kvm.fromFd(fd as number), type, code);
  });

  it.each([
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 32, RangeError, 'ERR_OUT_OF_RANGE'],
    ['1', TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('FdProbe.floor(%s) on a live object', async (count, type, code) => {
    const { openSync, closeSync } = await import('node:fs');
    const borrowed = openSync('/dev/null', 'r');
    const probe = FdProbe.adopt(borrowed);
    await expectRejectedWithoutSyscall(() => probe.floor(count as number), type, code);
    probe.close();
    closeSync(borrowed);
  });

  it('messages follow Node', async () => {
    const { error } = await tracingSyscalls(() => Kvm.fromFd(-1));
    expect((error as Error).message).toBe('The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received -1');
    const { error: typeError } = await tracingSyscalls(() => Kvm.open(7 as unknown as string));
    expect((typeError as Error).message).toBe('The "path" argument must be of type string. Received type number (7)');
  });
});
