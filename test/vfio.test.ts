// VFIO objects and guest memory on this machine: real ENOENT failures with hints, argument
// validation before any syscall, and guest memory (an mmap that works on any Linux).
import { describe, expect, it } from 'vitest';
import { GuestMemory, VfioContainer, VfioGroup, attachIommuGroup, pageSize, traceSyscalls } from '../dist/index.js';
import { caught } from './helpers.js';


describe('VFIO on a machine without VFIO', () => {
  it('VfioContainer.open gives ENOENT with a hint about the vfio modules', () => {
    const error = caught(() => VfioContainer.open());
    expect(error.code).toBe('ENOENT');
    expect(error.syscall).toBe('open');
    expect(error.hint).toContain('modprobe vfio-pci');
  });

  it('VfioGroup.open gives ENOENT with a hint about binding to vfio-pci', () => {
    const error = caught(() => VfioGroup.open(7));
    expect(error.code).toBe('ENOENT');
    expect(error.target).toBe('vfio group 7');
    expect(error.hint).toContain('vfio-pci');
  });

  it('VfioContainer.open on /dev/null is ENOTTY from VFIO_GET_API_VERSION', () => {
    const error = caught(() => VfioContainer.open('/dev/null'));
    expect(error.request).toBe('VFIO_GET_API_VERSION');
    expect(error.code).toBe('ENOTTY');
  });

  it.each([
    [() => VfioGroup.open(-1), RangeError],
    [() => VfioGroup.open(1.5), RangeError],
    [() => VfioGroup.open({} as never), TypeError],
    [() => VfioGroup.open(''), TypeError],
    [() => VfioContainer.open(5 as never), TypeError],
    [() => VfioGroup.fromFd(-3), RangeError],
    [() => attachIommuGroup({} as never, { group: 1, liobn: 1n, windowSize: 1n << 30n }), TypeError],
  ])('bad arguments throw before any syscall (%#)', (call, type) => {
    const { error, syscalls } = traceSyscalls(call);
    expect(error).toBeInstanceOf(type);
    expect(syscalls).toEqual([]);
  });
});

describe('GuestMemory', () => {
  const page = BigInt(pageSize());

  it('allocates page-aligned memory usable as an ArrayBuffer, and detaches it on close', () => {
    const memory = GuestMemory.allocate(page * 4n);
    expect(memory.buffer.byteLength).toBe(Number(page * 4n));
    const view = new Uint8Array(memory.buffer);
    expect(view[0]).toBe(0);
    view.fill(0x5a);
    expect(new Uint8Array(memory.buffer)[Number(page * 4n) - 1]).toBe(0x5a);
    memory.close();
    memory.close();
    expect(view.length).toBe(0); // detached: no view can reach the unmapped memory
    expect(memory.closed).toBe(true);
    expect(() => memory.buffer).toThrow(expect.objectContaining({ code: 'ERR_KVM_CLOSED' }));
  });

  it.each([
    [0n, RangeError],
    [page + 1n, RangeError],
    [-page, RangeError],
    [4096, TypeError],
    ['4096', TypeError],
    [1n << 62n, RangeError], // above the largest ArrayBuffer; ENOMEM is in mapping-limits.test.ts
  ])('refuses size %s', (size, type) => {
    const { error, syscalls } = traceSyscalls(() => GuestMemory.allocate(size as bigint));
    expect(error).toBeInstanceOf(type);
    expect(syscalls).toEqual([]);
  });

  it('memory dropped without close is unmapped when collected (20 × 64 MiB of address space)', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const { readFileSync } = await import('node:fs');
    const vmSizeKiB = () => Number(/^VmSize:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
    const before = vmSizeKiB();
    (() => {
      for (let i = 0; i < 20; i += 1) new Uint8Array(GuestMemory.allocate(64n << 20n).buffer)[0] = 1;
    })();
    expect(vmSizeKiB() - before).toBeGreaterThanOrEqual(20 * 64 * 1024);
    for (let attempt = 0; attempt < 50 && vmSizeKiB() - before > 64 * 1024; attempt += 1) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(vmSizeKiB() - before).toBeLessThan(64 * 1024);
  });
});
