// The error class, the hint table and real failing syscalls on this machine.
import { closeSync, openSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Kvm, KvmVfioError, findHint, hintRows, resourceStats } from '../dist/index.js';
import { syscallError } from '../dist/errors.js';
import { native } from '../dist/native.js';
import { errnoContract } from './fixtures/kernel-abi.js';
import { caught, openFds } from './helpers.js';


describe('hint table', () => {
  it.each(errnoContract)('%s %s %s has a hint written for that call', (request, qualifier, code) => {
    const row = findHint(request, qualifier ? [qualifier] : [], code);
    expect(row, `${request} ${qualifier} ${code}`).toBeDefined();
    expect(row!.request).toBe(request);
    if (qualifier) expect(row!.qualifier).toBe(qualifier);
  });

  it('every row names a real errno, says something and cites a kernel source', () => {
    const names = new Set(native.errnoNames.filter(Boolean));
    for (const row of hintRows) {
      expect(names.has(row.code), `${row.request} ${row.code}`).toBe(true);
      expect(row.hint.length, row.request).toBeGreaterThan(10);
      expect(row.source, `${row.request} ${row.code}`).toMatch(/\/|copy_from_user/);
    }
  });

  it('has one row per (request, qualifier, code)', () => {
    const keys = hintRows.map((row) => `${row.request}|${row.qualifier}|${row.code}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('KvmVfioError', () => {
  it('reads like the contract: request(args) on target failed: CODE — hint', () => {
    const error = syscallError(-2, {
      syscall: 'ioctl',
      request: 'KVM_SET_DEVICE_ATTR',
      qualifiers: ['KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE', 'kvm-vfio'],
      target: 'kvm-vfio device',
      args: 'group 1, attr 3',
    });
    expect(error.message).toBe(
      'KVM_SET_DEVICE_ATTR(group 1, attr 3) on kvm-vfio device failed: ENOENT — the group fd was never added to this KVM-VFIO device (call addGroup first)',
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(KvmVfioError);
    expect(error.name).toBe('KvmVfioError');
    expect({ code: error.code, errno: error.errno, syscall: error.syscall, request: error.request, target: error.target }).toEqual({
      code: 'ENOENT',
      errno: -2,
      syscall: 'ioctl',
      request: 'KVM_SET_DEVICE_ATTR',
      target: 'kvm-vfio device',
    });
    expect(getSystemErrorName(error.errno!)).toBe('ENOENT');
    expect(error.source).toContain('virt/kvm/vfio.c');
    expect(error.stack).toContain('KvmVfioError: KVM_SET_DEVICE_ATTR');
  });

  it('an unknown (request, errno) pair still gets code, errno and a generic hint', () => {
    const error = syscallError(-28, { syscall: 'ioctl', request: 'KVM_CREATE_VM', target: 'kvm system' });
    expect(error.code).toBe('ENOSPC');
    expect(error.errno).toBe(-28);
    expect(error.hint).toContain('no specific explanation');
    expect(error.hint).toContain('No space left on device');
    expect(error.source).toBeUndefined();
  });

  it('uses the Linux errno names of this architecture', () => {
    expect(syscallError(-95, { syscall: 'ioctl', request: 'X', target: 't' }).code).toBe('EOPNOTSUPP');
    expect(syscallError(-77, { syscall: 'ioctl', request: 'X', target: 't' }).code).toBe('EBADFD');
  });
});

describe('real failing syscalls', () => {
  it('a missing /dev/kvm path gives ENOENT with its hint, from open', () => {
    const error = caught(() => Kvm.open('/nonexistent/kvm'));
    expect(error.code).toBe('ENOENT');
    expect(error.errno).toBe(-2);
    expect(error.syscall).toBe('open');
    expect(error.request).toBe('open');
    expect(error.hint).toContain('kvm module');
    expect(error.message).toContain("open('/nonexistent/kvm') on kvm system failed: ENOENT");
  });

  it('Kvm.open on /dev/null gives ENOTTY naming KVM_GET_API_VERSION', () => {
    const error = caught(() => Kvm.open('/dev/null'));
    expect(error.code).toBe('ENOTTY');
    expect(error.syscall).toBe('ioctl');
    expect(error.request).toBe('KVM_GET_API_VERSION');
    expect(error.hint).toContain('not /dev/kvm');
  });

  it('Kvm.fromFd on an fd that is not open gives EBADF from fcntl', () => {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    const error = caught(() => Kvm.fromFd(fd));
    expect(error.code).toBe('EBADF');
    expect(error.syscall).toBe('fcntl');
    expect(error.hint).toContain('not open');
  });

  it('Kvm.fromFd on a non-KVM fd gives ENOTTY and closes its duplicate', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const before = openFds().size;
      const error = caught(() => Kvm.fromFd(fd));
      expect(error.code).toBe('ENOTTY');
      expect(openFds().size).toBe(before);
    } finally {
      closeSync(fd);
    }
  });

  it('an errno without a row (EISDIR opening a directory) gets the generic hint', () => {
    const error = caught(() => Kvm.open('/tmp'));
    expect(error.code).toBe('EISDIR');
    expect(error.hint).toContain('no specific explanation');
  });

  it('failed opens leave no fd behind', () => {
    const before = openFds().size;
    const ownedBefore = resourceStats().ownedFds;
    for (let i = 0; i < 50; i += 1) {
      for (const path of ['/nonexistent/kvm', '/dev/null', '/tmp']) caught(() => Kvm.open(path));
    }
    expect(openFds().size).toBe(before);
    expect(resourceStats().ownedFds).toBe(ownedBefore);
  });
});
