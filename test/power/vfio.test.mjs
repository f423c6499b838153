// VFIO containers, groups and devices with the sPAPR TCE IOMMU against the real 6.12 kernel
// (drivers/vfio/vfio_iommu_spapr_tce.c tce_iommu_ioctl, drivers/vfio/group.c), kernel-abi.md §4.6.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuestMemory, IommuType, VfioContainer, VfioGroup, pageSize, traceSyscalls } from '../../dist/index.js';
import { EXPECTED, NEEDS_VFIO_GROUPS, DEVICE_TESTDEV, DEVICE_UNVIABLE_HOST, GROUP_TESTDEV, GROUP_UNVIABLE, expectClosedWithoutSyscall, expectKvmError, scoped } from './helpers.mjs';

function v2Container(groupNumber = GROUP_TESTDEV) {
  const container = VfioContainer.open();
  const group = VfioGroup.open(groupNumber);
  group.setContainer(container);
  container.setIommu(IommuType.SPAPR_TCE_V2);
  return { container, group, [Symbol.dispose]: () => { group.close(); container.close(); } };
}

describe('VFIO sPAPR on the emulated POWER host', NEEDS_VFIO_GROUPS, () => {
  it('opens the container (API 0) and offers SPAPR_TCE v1 and v2, not TYPE1 (tce_iommu_ioctl VFIO_CHECK_EXTENSION)', () => scoped((use) => {
    const container = use(VfioContainer.open());
    assert.equal(container.apiVersion, 0);
    assert.equal(container.checkExtension(IommuType.SPAPR_TCE), 1);
    assert.equal(container.checkExtension(IommuType.SPAPR_TCE_V2), 1);
    assert.equal(container.checkExtension(IommuType.TYPE1), 0);
  }));

  it('opens a viable group once; a second open is EBUSY (drivers/vfio/group.c vfio_group_fops_open)', () => scoped((use) => {
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    assert.deepEqual(group.status, { viable: true, containerSet: false });
    assert.deepEqual(group.devices(), [{ name: DEVICE_TESTDEV, driver: 'vfio-pci' }]);
    expectKvmError(() => VfioGroup.open(GROUP_TESTDEV), { code: 'EBUSY', request: 'open', hint: 'already open' });
  }));

  it('gives ENOENT with a hint for a group that does not exist', () => scoped((use) => {
    expectKvmError(() => VfioGroup.open(99), { code: 'ENOENT', syscall: 'open', hint: 'vfio-pci' });
  }));

  it(`reports the v2 DDW info of ${EXPECTED.description}: page shifts ${EXPECTED.ddw.pageShifts.join('|')}, ${EXPECTED.ddw.maxDynamicWindows} windows, ${EXPECTED.ddw.levels} levels, a ${EXPECTED.defaultWindowSize >> 30n} GiB default window (tce_iommu_ioctl GET_INFO)`, () => scoped((use) => {
    const setup = use(v2Container());
    const info = setup.container.spaprInfo();
    assert.equal(info.dma32WindowStart, 0n);
    assert.equal(info.dma32WindowSize, EXPECTED.defaultWindowSize);
    assert.deepEqual(info.ddw, EXPECTED.ddw);
    assert.deepEqual(setup.group.status, { viable: true, containerSet: true });
  }));

  it('reports v1 info without DDW', () => scoped((use) => {
    const container = use(VfioContainer.open());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE);
    const info = container.spaprInfo();
    assert.equal(info.dma32WindowSize, EXPECTED.defaultWindowSize);
    assert.equal(info.ddw, undefined);
  }));

  it('refuses v1-only and v2-only calls on the wrong container before any syscall', () => scoped((use) => {
    const setup = use(v2Container());
    expectKvmError(() => setup.container.enable(), { code: 'ERR_VFIO_WRONG_IOMMU' });
    const bare = use(VfioContainer.open());
    expectKvmError(() => bare.createWindow({ pageShift: 12, windowSize: 1n << 30n }), { code: 'ERR_VFIO_NO_IOMMU' });
  }));

  it('creates and removes a v2 window at the bus address the platform picks (tce_iommu_create_window)', () => scoped((use) => {
    const setup = use(v2Container());
    setup.container.removeWindow(0n); // cancels the pending default window
    const window = setup.container.createWindow({ pageShift: 12, windowSize: 1n << 30n });
    assert.equal(window.startAddr, 0n);
    assert.deepEqual(setup.container.windows, [window]);
    setup.container.removeWindow(window.startAddr);
    assert.deepEqual(setup.container.windows, []);
    expectKvmError(() => setup.container.removeWindow(0x1000n), { code: 'EINVAL', request: 'VFIO_IOMMU_SPAPR_TCE_REMOVE' });
  }));

  it('refuses a window page size the platform lacks with EINVAL and its hint', () => scoped((use) => {
    const setup = use(v2Container());
    expectKvmError(() => setup.container.createWindow({ pageShift: 13, windowSize: 1n << 30n }), {
      code: 'EINVAL', request: 'VFIO_IOMMU_SPAPR_TCE_CREATE', hint: 'pageShifts',
    });
  }));

  it('registers and unregisters guest memory (v2), sync and async (tce_iommu_register_pages)', () => scoped(async (use) => {
    const setup = use(v2Container());
    const memory = use(GuestMemory.allocate(BigInt(pageSize()) * 64n));
    setup.container.registerMemory(memory);
    assert.deepEqual(setup.container.registeredMemory, [memory]);
    setup.container.unregisterMemory(memory);
    await setup.container.registerMemoryAsync(memory);
    assert.deepEqual(memory.users, ['registered with a vfio container']);
    expectKvmError(() => setup.container.registerMemory(memory), { code: 'ERR_VFIO_ALREADY_REGISTERED' });
    await setup.container.unregisterMemoryAsync(memory);
    assert.deepEqual(memory.users, []);
    await assert.rejects(setup.container.unregisterMemoryAsync(memory), (error) => error.code === 'ENOENT' && error.request === 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY');
    setup.container.registerMemory(memory);
    memory.close(); // unregisters first
    assert.deepEqual(setup.container.registeredMemory, []);
    const other = use(GuestMemory.allocate(BigInt(pageSize())));
    expectKvmError(() => setup.container.unregisterMemory(other), { code: 'ENOENT', request: 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY' });
  }));

  it(`creates and removes a window asynchronously; the platform places a 64K-page window at 0x${EXPECTED.firstNewWindowStart.toString(16)}`, () => scoped(async (use) => {
    const setup = use(v2Container());
    setup.container.removeWindow(0n);
    const window = await setup.container.createWindowAsync({ pageShift: 16, windowSize: 1n << 30n });
    assert.equal(window.startAddr, EXPECTED.firstNewWindowStart);
    assert.equal(window.pageShift, 16);
    await setup.container.removeWindowAsync(window.startAddr);
    assert.deepEqual(setup.container.windows, []);
    await assert.rejects(setup.container.removeWindowAsync(window.startAddr), (error) => error.code === 'EINVAL' && error.request === 'VFIO_IOMMU_SPAPR_TCE_REMOVE');
  }));

  it('maps and unmaps guest memory on a v1 container after enable (tce_iommu_build)', () => scoped((use) => {
    const container = use(VfioContainer.open());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE);
    const memory = use(GuestMemory.allocate(BigInt(pageSize()) * 4n));
    expectKvmError(() => container.mapDma({ memory, iova: 0n }), { code: 'EPERM', request: 'VFIO_IOMMU_MAP_DMA', hint: 'enable' });
    container.enable();
    container.mapDma({ memory, iova: 0n });
    container.unmapDma({ iova: 0n, size: memory.size });
    expectKvmError(() => container.enable(), { code: 'EBUSY', request: 'VFIO_IOMMU_ENABLE' });
    container.disable();
  }));

  it('sets the group container asynchronously and unsets it', () => scoped(async (use) => {
    const container = use(VfioContainer.open());
    const group = use(VfioGroup.open(GROUP_TESTDEV));
    await group.setContainerAsync(container);
    assert.equal(group.status.containerSet, true);
    group.unsetContainer();
    assert.equal(group.status.containerSet, false);
    expectKvmError(() => group.unsetContainer(), { code: 'EINVAL', request: 'VFIO_GROUP_UNSET_CONTAINER' });
  }));

  it('opens the device of a group and reads its PCI config space (vfio_pci_core)', () => scoped((use) => {
    const setup = use(v2Container());
    const device = use(setup.group.getDeviceFd(DEVICE_TESTDEV));
    assert.ok(device.info().numRegions >= 8);
    assert.equal(device.readConfig(0, 2), 0x1b36); // vendor: Red Hat (pci-testdev)
    assert.equal(device.readConfig(2, 2), 0x0005);
    expectKvmError(() => setup.group.getDeviceFd('0009:00:00.0'), { code: 'ENODEV', request: 'VFIO_GROUP_GET_DEVICE_FD' });
  }));

  it('checks region accesses and device names before any syscall (fuzzing found GET_REGION_INFO issued first)', () => scoped((use) => {
    const setup = use(v2Container());
    const device = use(setup.group.getDeviceFd(DEVICE_TESTDEV));
    const refused = [
      [() => device.read(7, 0n, 3), TypeError, 'ERR_INVALID_ARG_VALUE'],
      [() => device.read(7, 2n ** 64n, 4), RangeError, 'ERR_OUT_OF_RANGE'],
      [() => device.read(99, 0n, 2.5), RangeError, 'ERR_OUT_OF_RANGE'],
      [() => device.write(7, -1n, 4, 0n), RangeError, 'ERR_OUT_OF_RANGE'],
      [() => device.write(7, 0n, 2, 1n << 16n), RangeError, 'ERR_OUT_OF_RANGE'],
      [() => device.writeConfig(0, 2.5, 0), RangeError, 'ERR_OUT_OF_RANGE'],
      [() => setup.group.getDeviceFd('a'.repeat(80)), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [call, type, code] of refused) {
      const { error, syscalls } = traceSyscalls(call);
      assert.ok(error instanceof type, `${call}: ${error}`);
      assert.equal(error.code, code, error.message);
      assert.deepEqual(syscalls, [], `${call} issued no syscall`);
    }
    const { error } = traceSyscalls(() => device.read(7, 0xfffn, 4)); // valid arguments, beyond the region the kernel reports
    assert.ok(error instanceof RangeError && error.code === 'ERR_OUT_OF_RANGE', String(error));
  }));

  it('refuses calls on closed containers and groups without a syscall', () => scoped((use) => {
    const { container, group } = v2Container();
    group.close();
    container.close();
    expectClosedWithoutSyscall(() => container.spaprInfo());
    expectClosedWithoutSyscall(() => container.createWindow({ pageShift: 12, windowSize: 1n << 30n }));
    expectClosedWithoutSyscall(() => group.status);
    expectClosedWithoutSyscall(() => group.setContainer(container));
  }));
});
