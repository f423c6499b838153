// The point of the library, proven on the emulated POWER host with exact counts (never rates):
// once a LIOBN has an in-kernel table, and once a VFIO group is linked to it, the kernel answers
// the guest's TCE hypercalls itself (arch/powerpc/kvm/book3s_64_vio.c kvmppc_h_put_tce,
// kvmppc_h_get_tce, kvmppc_h_stuff_tce; book3s_hv.c kvmppc_pseries_do_hcall), and the TCEs reach
// the IOMMU: the emulated edu device DMAs through them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cap, GuestMemory, Kvm, VfioGroup, attachIommuGroup } from '../../dist/index.js';
import { EduDevice } from '../../dist/examples/edu.js';
import { TceGuest } from '../../dist/examples/tce-guest.js';
import { NEEDS_VFIO_GROUPS, DEVICE_EDU, GROUP_EDU, scoped } from './helpers.mjs';

const H_GET_TCE = 0x1cn;
const H_PUT_TCE = 0x20n;
const H_STUFF_TCE = 0x138n;
const TCE_READ_WRITE = 3n;
const N = 2000; // hypercalls per case
const LIOBN_WITHOUT_TABLE = 0x1000n;
const LIOBN = 0x80000000n;
const WINDOW = 1n << 30n;
const DATA = 0x100000n; // guest-physical address of the first page the guest maps
// QEMU 7.2's edu refuses a DMA that ends exactly at the end of its 4 KiB buffer (an off-by-one in
// hw/misc/edu.c edu_check_range that aborts QEMU), so the check moves 1 KiB.
const DMA_BYTES = 1024;

/** The TCE the guest writes for IO page i: guest page DATA + i*4K, read/write. */
const tceOf = (i) => (DATA + BigInt(i) * 0x1000n) | TCE_READ_WRITE;

function guestScope(use) {
  const kvm = use(Kvm.open());
  const vm = use(kvm.createVm());
  const memory = use(GuestMemory.allocate(64n << 20n));
  const guest = TceGuest.create(vm, memory);
  use(guest.vcpu);
  return { vm, memory, guest };
}

describe('in-kernel TCE acceleration on the emulated POWER host', NEEDS_VFIO_GROUPS, () => {
  it(`A: no table for the LIOBN — all ${N} H_PUT_TCE exit to JavaScript, which answers them`, () => scoped(async (use) => {
    const { guest } = guestScope(use);
    let answered = 0;
    const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN_WITHOUT_TABLE, iterations: N, tce: tceOf(0) }, () => {
      answered += 1;
      return { ret: 0n };
    });
    assert.deepEqual([report.hypercalls, report.userExits, answered, report.failed], [N, N, N, 0]);
  }));

  it(`B: an in-kernel table — 0 exits for ${N} H_PUT_TCE, and the table holds exactly the TCEs written`, () => scoped(async (use) => {
    const { vm, guest } = guestScope(use);
    const table = use(vm.createSpaprTceTable({ liobn: LIOBN, size: WINDOW >> 12n }));
    const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: N, tce: tceOf(0) });
    assert.deepEqual([report.hypercalls, report.userExits, report.failed], [N, 0, 0]);
    const entries = table.entries();
    for (let i = 0; i < N; i += 1) assert.equal(entries[i], tceOf(i), `TCE ${i}`);
    assert.equal(entries.slice(N).some((tce) => tce !== 0n), false);
  }));

  it('B: H_GET_TCE is answered in-kernel with the stored TCEs', () => scoped(async (use) => {
    const { vm, guest } = guestScope(use);
    use(vm.createSpaprTceTable({ liobn: LIOBN, size: WINDOW >> 12n }));
    await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: N, tce: tceOf(0) });
    const report = await guest.runLoop({ hcall: H_GET_TCE, liobn: LIOBN, iterations: N });
    let expected = 0n;
    for (let i = 0; i < N; i += 1) expected += tceOf(i);
    assert.deepEqual([report.hypercalls, report.userExits, report.failed], [N, 0, 0]);
    assert.equal(report.r4Sum, expected);
  }));

  it('B: H_STUFF_TCE exits until KVM_ENABLE_CAP(PPC_ENABLE_HCALL) turns it on, then clears TCEs in-kernel', () => scoped(async (use) => {
    const { vm, guest } = guestScope(use);
    const table = use(vm.createSpaprTceTable({ liobn: LIOBN, size: WINDOW >> 12n }));
    await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: 400, tce: tceOf(0) });
    // H_STUFF_TCE(liobn, ioba, value 0, npages 4): the kernel only stuffs values without permission bits.
    const stuff = { hcall: H_STUFF_TCE, liobn: LIOBN, iterations: 100, tce: 0n, tceStep: 0n, iobaStep: 0x4000n, arg7: 4n };
    const before = await guest.runLoop(stuff);
    assert.deepEqual([before.hypercalls, before.userExits], [100, 100]);
    assert.equal(table.read(0), tceOf(0)); // user space answered but did nothing
    vm.enableCap(Cap.PPC_ENABLE_HCALL, [H_STUFF_TCE, 1n]);
    const after = await guest.runLoop(stuff);
    assert.deepEqual([after.hypercalls, after.userExits, after.failed], [100, 0, 0]);
    assert.equal(table.entries().slice(0, 400).every((tce) => tce === 0n), true);
  }));

  it(`C: a VFIO group linked to the LIOBN — 0 exits for ${N} H_PUT_TCE, and the edu device DMAs through the guest's TCEs`, () => scoped(async (use) => {
    const { vm, memory, guest } = guestScope(use);
    const group = use(VfioGroup.open(GROUP_EDU));
    const linkage = use(attachIommuGroup(vm, { group, liobn: LIOBN, windowSize: WINDOW, memory }));
    const edu = new EduDevice(use(group.getDeviceFd(DEVICE_EDU)));
    assert.equal(edu.id(), 0x010000edn);
    const source = new Uint8Array(memory.buffer, Number(DATA), DMA_BYTES);
    const target = new Uint8Array(memory.buffer, Number(DATA) + 0x1000, DMA_BYTES);
    source.forEach((_, i) => (source[i] = (i * 7 + 3) & 0xff));

    const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: N, tce: tceOf(0) });
    assert.deepEqual([report.hypercalls, report.userExits, report.failed], [N, 0, 0]);
    assert.equal(linkage.table.read(0), tceOf(0));
    assert.equal(linkage.table.read(N - 1), tceOf(N - 1));

    await edu.dma('to-device', 0n, BigInt(DMA_BYTES)); // guest page at IOVA 0 -> device
    await edu.dma('from-device', 0x1000n, BigInt(DMA_BYTES)); // device -> guest page at IOVA 0x1000
    assert.deepEqual(target, source);
  }));

  it('C, negative control: with only IOVA 0 mapped, the DMA to IOVA 0x1000 does not land', () => scoped(async (use) => {
    const { vm, memory, guest } = guestScope(use);
    const group = use(VfioGroup.open(GROUP_EDU));
    use(attachIommuGroup(vm, { group, liobn: LIOBN, windowSize: WINDOW, memory }));
    const edu = new EduDevice(use(group.getDeviceFd(DEVICE_EDU)));
    const source = new Uint8Array(memory.buffer, Number(DATA), DMA_BYTES);
    const target = new Uint8Array(memory.buffer, Number(DATA) + 0x1000, DMA_BYTES);
    source.fill(0x5a);
    const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: 1, tce: tceOf(0) });
    assert.equal(report.userExits, 0);
    await edu.dma('to-device', 0n, BigInt(DMA_BYTES));
    await edu.dma('from-device', 0x1000n, BigInt(DMA_BYTES));
    assert.equal(target.some((byte) => byte !== 0), false);
  }));

  it('C without memory registration: every H_PUT_TCE exits (the kernel cannot map unregistered pages: H_TOO_HARD)', () => scoped(async (use) => {
    const { vm, guest } = guestScope(use);
    const linkage = use(attachIommuGroup(vm, { group: GROUP_EDU, liobn: LIOBN, windowSize: WINDOW }));
    assert.equal(linkage.flags.memoryRegistered, false);
    const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: 200, tce: tceOf(0) });
    assert.deepEqual([report.hypercalls, report.userExits], [200, 200]);
    assert.equal(linkage.table.read(0), 0n);
  }));
});
