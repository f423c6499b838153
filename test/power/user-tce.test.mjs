// The user-space TCE path on the emulated POWER host (kvm-vfio-spapr/spapr UserTceTable): with no
// in-kernel table for the LIOBN, every TCE hypercall exits to JavaScript, which keeps the table and
// maps each TCE through the VFIO container (VFIO_IOMMU_MAP_DMA / UNMAP_DMA), and the edu device's
// DMA follows the guest's TCEs exactly as it does on the in-kernel path (tce-acceleration.test.mjs).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup } from '../../dist/index.js';
import { H, HcallTable, TceHypercalls, UserTceTable } from '../../dist/spapr/index.js';
import { EduDevice } from '../../dist/examples/edu.js';
import { openPassthroughDma } from '../../dist/examples/spapr-vmm/dma.js';
import { TceGuest } from '../../dist/examples/tce-guest.js';
import { NEEDS_VFIO_GROUPS, DEVICE_EDU, GROUP_EDU, openFds, scoped } from './helpers.mjs';

const LIOBN = 0x80000000n;
const WINDOW = 1n << 30n;
const DATA = 0x100000n; // guest-physical address of the first page the guest maps
const PAGES = 64;
const DMA_BYTES = 1024; // QEMU 7.2's edu aborts on a DMA ending exactly at its buffer's end
const tceOf = (i) => (DATA + BigInt(i) * 0x1000n) | 3n;

/** A VM with the hypercall loop guest, the edu group in a container of `iommu`, and a user-space TCE table for LIOBN. */
function setup(use, iommu) {
  const kvm = use(Kvm.open());
  const vm = use(kvm.createVm());
  const memory = use(GuestMemory.allocate(64n << 20n));
  const guest = TceGuest.create(vm, memory);
  use(guest.vcpu);
  const container = use(VfioContainer.open());
  const group = use(VfioGroup.open(GROUP_EDU));
  group.setContainer(container);
  if (iommu === 'v2') {
    container.setIommu(IommuType.SPAPR_TCE_V2);
    container.registerMemory(memory);
    container.removeWindow(0n); // cancels the pending default window, so ours takes bus address 0
    container.createWindow({ pageShift: 12, windowSize: WINDOW });
  } else {
    container.setIommu(IommuType.SPAPR_TCE);
    container.enable(); // the first map creates the default window: 1 GiB at 0, 4 KiB pages
  }
  const edu = new EduDevice(use(group.getDeviceFd(DEVICE_EDU)));
  const table = new UserTceTable({ liobn: LIOBN, windowSize: WINDOW, ram: memory, container });
  use({ [Symbol.dispose]: () => table.clear() });
  const hcalls = new HcallTable();
  new TceHypercalls([table]).register(hcalls);
  const answer = (call) => hcalls.dispatch(call.nr, call.args);
  return { memory, guest, edu, table, hcalls, answer };
}

/** Fills the source page with a pattern and zeroes the target; returns both views. */
function pages(memory) {
  const source = new Uint8Array(memory.buffer, Number(DATA), DMA_BYTES);
  const target = new Uint8Array(memory.buffer, Number(DATA) + 0x1000, DMA_BYTES);
  source.forEach((_, i) => (source[i] = (i * 7 + 3) & 0xff));
  target.fill(0);
  return { source, target };
}

describe('TCE hypercalls answered in JavaScript, mapped through VFIO', NEEDS_VFIO_GROUPS, () => {
  for (const iommu of ['v2', 'v1']) {
    it(`${iommu}: all ${PAGES} H_PUT_TCE exit and are mapped; the edu device DMAs through them; H_GET_TCE reads them back`, () => scoped(async (use) => {
      const { memory, guest, edu, table, answer } = setup(use, iommu);
      const { source, target } = pages(memory);
      const report = await guest.runLoop({ hcall: H.H_PUT_TCE, liobn: LIOBN, iterations: PAGES, tce: tceOf(0) }, answer);
      assert.deepEqual([report.hypercalls, report.userExits, report.failed], [PAGES, PAGES, 0]);
      assert.deepEqual([table.stats.maps, table.stats.unmaps, table.stats.failures], [PAGES, 0, 0], String(table.stats.lastError));
      for (let i = 0; i < PAGES; i++) assert.equal(table.read(i), tceOf(i));
      await edu.dma('to-device', 0n, BigInt(DMA_BYTES)); // IOVA 0 -> guest page DATA
      await edu.dma('from-device', 0x1000n, BigInt(DMA_BYTES)); // -> guest page DATA + 4 KiB
      assert.deepEqual(target, source);
      const get = await guest.runLoop({ hcall: H.H_GET_TCE, liobn: LIOBN, iterations: PAGES }, answer);
      assert.equal(get.failed, 0);
      assert.equal(get.r4Sum, Array.from({ length: PAGES }, (_, i) => tceOf(i)).reduce((a, b) => a + b, 0n));
    }));
  }

  it('a TCE VFIO refuses (v2 memory never registered) answers H_HARDWARE, keeps the entry clear and records the error', () => scoped(async (use) => {
    const kvm = use(Kvm.open());
    const vm = use(kvm.createVm());
    const memory = use(GuestMemory.allocate(64n << 20n));
    const guest = TceGuest.create(vm, memory);
    use(guest.vcpu);
    const container = use(VfioContainer.open());
    const group = use(VfioGroup.open(GROUP_EDU));
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2);
    container.removeWindow(0n);
    container.createWindow({ pageShift: 12, windowSize: WINDOW });
    const table = new UserTceTable({ liobn: LIOBN, windowSize: WINDOW, ram: memory, container });
    const hcalls = new HcallTable();
    new TceHypercalls([table]).register(hcalls);
    const report = await guest.runLoop({ hcall: H.H_PUT_TCE, liobn: LIOBN, iterations: 1, tce: tceOf(0) }, (call) => hcalls.dispatch(call.nr, call.args));
    assert.deepEqual([report.userExits, report.failed], [1, 1]);
    assert.deepEqual([table.stats.maps, table.stats.failures, table.read(0)], [0, 1, 0n]);
    assert.equal(table.stats.lastError.request, 'VFIO_IOMMU_MAP_DMA', String(table.stats.lastError));
  }));

  it('H_STUFF_TCE with 0 unmaps: a DMA to an IOVA the guest unmapped does not land in guest memory', () => scoped(async (use) => {
    const { memory, guest, edu, table, answer } = setup(use, 'v2');
    await guest.runLoop({ hcall: H.H_PUT_TCE, liobn: LIOBN, iterations: PAGES, tce: tceOf(0) }, answer);
    const { target } = pages(memory);
    const stuff = await guest.runLoop({ hcall: H.H_STUFF_TCE, liobn: LIOBN, iterations: 1, ioba: 0x1000n, tce: 0n, arg7: BigInt(PAGES - 1) }, answer);
    assert.deepEqual([stuff.userExits, stuff.failed], [1, 0]);
    assert.deepEqual([table.stats.maps, table.stats.unmaps], [PAGES, PAGES - 1]);
    await edu.dma('to-device', 0n, BigInt(DMA_BYTES));
    await edu.dma('from-device', 0x1000n, BigInt(DMA_BYTES));
    assert.equal(target.some((byte) => byte !== 0), false, 'the IOMMU stopped the DMA');
  }));

  it('H_PUT_TCE_INDIRECT never reaches user space on this host: the kernel answers H_FUNCTION itself (so a VMM must not advertise hcall-multi-tce here); putIndirect() maps a big-endian list for kernels that do exit', () => scoped(async (use) => {
    const { memory, guest, edu, table, answer } = setup(use, 'v2');
    const LIST = 0x200000;
    const view = new DataView(memory.buffer);
    for (let i = 0; i < 16; i++) view.setBigUint64(LIST + 8 * i, tceOf(i), false);
    const inGuest = await guest.runLoop({ hcall: H.H_PUT_TCE_INDIRECT, liobn: LIOBN, iterations: 1, ioba: 0x10_0000n, tce: BigInt(LIST), arg7: 16n }, answer);
    assert.deepEqual([inGuest.userExits, inGuest.failed, table.stats.maps], [0, 1, 0], 'answered (H_FUNCTION) before user space');
    assert.equal(table.putIndirect(0x10_0000n, BigInt(LIST), 16n), 0n);
    assert.equal(table.stats.maps, 16);
    const { source, target } = pages(memory);
    await edu.dma('to-device', 0x10_0000n, BigInt(DMA_BYTES));
    await edu.dma('from-device', 0x10_1000n, BigInt(DMA_BYTES));
    assert.deepEqual(target, source);
    assert.equal(table.putIndirect(WINDOW - 0x8000n, BigInt(LIST), 16n), -4n, 'past the window end');
    assert.equal(table.putIndirect(0n, BigInt(LIST) + 8n, 1n), -4n, 'a misaligned list');
    const unknown = await guest.runLoop({ hcall: H.H_PUT_TCE, liobn: LIOBN + 1n, iterations: 2, tce: tceOf(0) }, answer);
    assert.deepEqual([unknown.userExits, unknown.failed], [2, 2], 'an unknown LIOBN: H_PARAMETER from JavaScript');
    assert.equal(table.stats.maps, 16);
  }));

  it('the reference VMM\'s user TCE path closes its DMA window when its table cannot be made (a LIOBN past 64 bits): RangeError, no fd left, the group opens again', () => scoped((use) => {
    const vm = use(use(Kvm.open()).createVm());
    const memory = use(GuestMemory.allocate(64n << 20n));
    const before = openFds();
    assert.throws(() => openPassthroughDma('user', { vm, memory, group: GROUP_EDU, liobn: 1n << 64n, windowSize: 1n << 30n }), (error) => error instanceof RangeError && /liobn/.test(error.message));
    assert.deepEqual(openFds(), before);
    VfioGroup.open(GROUP_EDU).close();
  }));
});
