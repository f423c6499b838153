// prepareDmaWindow on a machine without VFIO: every option checked before any syscall, closed
// guest memory refused, and a real ENOENT at step 'group' that leaves no fd behind.
import { describe, expect, it } from 'vitest';
import { DmaWindowStep, GroupDmaWindow, GuestMemory, KvmVfioError, prepareDmaWindow, type GroupDmaWindowOptions } from '../dist/index.js';
import { caught, newFds, openFds, tracingSyscalls } from './helpers.js';

const GIB = 1n << 30n;
const base: GroupDmaWindowOptions = { group: 1, windowSize: GIB };

async function expectRefusedWithoutSyscall(options: unknown, type: ErrorConstructor, code: string) {
  const { error, syscalls } = await tracingSyscalls(() => prepareDmaWindow(options as GroupDmaWindowOptions));
  expect(error).toBeInstanceOf(type);
  expect((error as NodeJS.ErrnoException).code).toBe(code);
  expect(syscalls).toBe(0);
}

describe('prepareDmaWindow checks its options before any syscall', () => {
  it.each([
    ['options null', null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['options 5', 5, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['no group', { windowSize: GIB }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['group {}', { ...base, group: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['group -1', { ...base, group: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['group 1.5', { ...base, group: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ["group ''", { ...base, group: '' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['no windowSize', { group: 1 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['windowSize 0n', { ...base, windowSize: 0n }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['windowSize as a number', { ...base, windowSize: 2 ** 30 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['windowSize not a multiple of the page', { ...base, windowSize: GIB + 1n }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['pageShift 11', { ...base, pageShift: 11 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['pageShift 35', { ...base, pageShift: 35 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ["pageShift '12'", { ...base, pageShift: '12' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['busOffset -1n', { ...base, busOffset: -1n }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['busOffset not a multiple of the page', { ...base, busOffset: 1n }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ["iommu 'v3'", { ...base, iommu: 'v3' }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['levels 0', { ...base, levels: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['levels 9', { ...base, levels: 9 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['memory 0', { ...base, memory: 0 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['memory {}', { ...base, memory: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['container {}', { ...base, container: {} }, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ])('%s', async (_name, options, type, code) => {
    await expectRefusedWithoutSyscall(options, type, code);
  });

  it('refuses closed guest memory, alone or in a list, for v2 and v1 (which registers none), before any syscall', async () => {
    const closed = GuestMemory.allocate(4096n);
    closed.close();
    using open = GuestMemory.allocate(4096n);
    for (const iommu of ['v2', 'v1'] as const) {
      await expectRefusedWithoutSyscall({ ...base, iommu, memory: closed }, KvmVfioError, 'ERR_KVM_CLOSED');
      await expectRefusedWithoutSyscall({ ...base, iommu, memory: [open, closed] }, KvmVfioError, 'ERR_KVM_CLOSED');
      await expectRefusedWithoutSyscall({ ...base, iommu, memory: [open, 'x'] }, TypeError, 'ERR_INVALID_ARG_TYPE');
    }
  });

  it('GroupDmaWindow cannot be constructed from JavaScript', () => {
    const Forged = GroupDmaWindow as unknown as new (...args: unknown[]) => unknown;
    expect(() => new Forged(Symbol('not the token'), {}, [])).toThrow(expect.objectContaining({ code: 'ERR_ILLEGAL_CONSTRUCTOR' }));
  });
});

describe('prepareDmaWindow on a machine without VFIO', () => {
  it.each([
    [7, 'vfio group 7'],
    ['/dev/vfio/does-not-exist', 'vfio group'],
  ])('group %j: ENOENT at step group, named by prepareDmaWindow, and no fd left open', (group, target) => {
    const before = openFds();
    const error = caught(() => prepareDmaWindow({ group, windowSize: GIB }));
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', step: DmaWindowStep.GROUP, target });
    expect(error.message.startsWith("prepareDmaWindow failed at step 'group': ")).toBe(true);
    expect(error.hint).toContain('vfio-pci');
    expect(error.cause).toBeInstanceOf(KvmVfioError);
    expect(newFds(before)).toEqual([]);
  });

  it('DmaWindowStep names the steps exactly as attachIommuGroup does', async () => {
    const { AttachStep } = await import('../dist/index.js');
    expect(DmaWindowStep).toEqual({ GROUP: AttachStep.GROUP, CONTAINER: AttachStep.CONTAINER, MEMORY: AttachStep.MEMORY, DMA_WINDOW: AttachStep.DMA_WINDOW });
    expect(Object.values(DmaWindowStep)).toEqual(['group', 'container', 'memory registration', 'DMA window']);
  });
});
