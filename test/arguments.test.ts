// Bad arguments throw TypeError / RangeError with Node's codes before any syscall.
import { describe, expect, it } from 'vitest';
import {
  Kvm, type ProbeOptions, type ProbeReport, Vm, capabilityName, devicesBlockingViability, errnoName, findHint, iommuGroupDevices, probe,
  traceSyscalls, verdictLine,
} from '../dist/index.js';
import { FdProbe } from '../bench/probe.mjs';
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

describe('helper functions check their arguments too', () => {
  it.each([
    ['capabilityName(-1)', () => capabilityName(-1), RangeError],
    ['capabilityName(Object.create(null))', () => capabilityName(Object.create(null) as number), TypeError],
    ['errnoName(1.5)', () => errnoName(1.5), RangeError],
    ["errnoName('length')", () => errnoName('length' as unknown as number), TypeError],
    ['findHint(request, 7, code)', () => findHint('open', 7 as unknown as string[], 'ENOENT'), TypeError],
    ['findHint(Symbol(), [], code)', () => findHint(Symbol('x') as unknown as string, [], 'ENOENT'), TypeError],
    ['iommuGroupDevices(Symbol())', () => iommuGroupDevices(Symbol('x') as unknown as number), TypeError],
    ['iommuGroupDevices(-1)', () => iommuGroupDevices(-1), RangeError],
    ['devicesBlockingViability(1, 5)', () => devicesBlockingViability(1, 5 as unknown as string), TypeError],
    ['probe(null)', () => probe(null as unknown as ProbeOptions), TypeError],
    ['probe({ kvmPath: 7 })', () => probe({ kvmPath: 7 as unknown as string }), TypeError],
    ['verdictLine({})', () => verdictLine({} as ProbeReport), TypeError],
  ])('%s throws before any syscall', (_name, call, type) => {
    const { error, syscalls } = traceSyscalls(call);
    expect(error).toBeInstanceOf(type);
    expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_VALUE']).toContain((error as NodeJS.ErrnoException).code);
    expect(syscalls).toEqual([]);
  });

  it('errnoName still names errnos, and findHint still finds rows', () => {
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(4095)).toBe('E4095');
    expect(findHint('open', ['kvm'], 'ENOENT')?.hint).toContain('/dev/kvm');
  });
});

describe('Vm.fromFd', () => {
  it.each([
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    ['3', TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('refuses fd %j before any syscall', (fd, type, code) => {
    const { error, syscalls } = traceSyscalls(() => Vm.fromFd(fd as number, undefined as never));
    expect(error).toBeInstanceOf(type);
    expect((error as NodeJS.ErrnoException).code).toBe(code);
    expect(syscalls).toEqual([]);
  });

  it('needs a Kvm parent', () => {
    const { error, syscalls } = traceSyscalls(() => Vm.fromFd(0, {} as never));
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_INVALID_ARG_TYPE');
    expect(syscalls).toEqual([]);
  });
});
