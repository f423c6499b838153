// lib/spapr's user-space TCE tables on their own (no container: the table logic and the answers the
// kernel's handlers would give, arch/powerpc/kvm/book3s_64_vio.c). The VFIO mapping half runs on
// the emulated POWER host (test/power/user-tce.test.mjs).
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../dist/index.js';
import { H, HcallTable, TceHypercalls, UserTceTable } from '../dist/spapr/index.js';

const H_SUCCESS = 0n;
const H_FUNCTION = -2n;
const H_PARAMETER = -4n;
const LIOBN = 0x8000_0000n;
const MiB = 1n << 20n;

function setup(options: { busOffset?: bigint; pageShift?: number } = {}) {
  const memory = GuestMemory.allocate(4n * MiB);
  const table = new UserTceTable({ liobn: LIOBN, windowSize: 64n * MiB, ram: memory, ...options });
  const hcalls = new HcallTable();
  new TceHypercalls([table]).register(hcalls);
  return { memory, table, hcalls, call: (nr: bigint, ...args: bigint[]) => hcalls.dispatch(nr, [LIOBN, ...args]) };
}

describe('UserTceTable and TceHypercalls', () => {
  it('H_PUT_TCE stores the TCE, H_GET_TCE returns it in r4, translate() says where a DMA goes', () => {
    const { memory, table, call } = setup();
    expect(call(H.H_PUT_TCE, 0x3000n, 0x20_0000n | 3n)).toEqual({ ret: H_SUCCESS });
    expect(call(H.H_GET_TCE, 0x3000n)).toEqual({ ret: H_SUCCESS, args: [0x20_0003n] });
    expect(table.read(3)).toBe(0x20_0003n);
    expect(table.translate(0x3010n)).toEqual({ guestPhysAddr: 0x20_0010n, read: true, write: true });
    expect(table.translate(0x4000n)).toBeUndefined();
    expect(call(H.H_PUT_TCE, 0x3000n, 0n)).toEqual({ ret: H_SUCCESS }); // cleared
    expect(table.translate(0x3000n)).toBeUndefined();
    memory.close();
  });

  it('answers H_PARAMETER as the kernel does, and changes nothing: misaligned or out-of-window IO bus address, a TCE outside RAM or not page-aligned, an unknown LIOBN', () => {
    const { memory, table, call, hcalls } = setup({ busOffset: 0x1000_0000n });
    const cases: bigint[][] = [
      [0x1000_0800n, 0x1000n | 1n], // ioba not page-aligned
      [0x0fff_f000n, 0x1000n | 1n], // below the window
      [0x1000_0000n + 64n * MiB, 0x1000n | 1n], // past its end
      [0x1000_0000n, 4n * MiB | 1n], // the page is outside guest RAM
      [0x1000_0000n, 0x1800n | 1n], // not page-aligned
    ];
    for (const [ioba, tce] of cases) expect(call(H.H_PUT_TCE, ioba!, tce!)).toEqual({ ret: H_PARAMETER });
    expect(hcalls.dispatch(H.H_PUT_TCE, [LIOBN + 1n, 0x1000_0000n, 0x1000n | 1n])).toEqual({ ret: H_PARAMETER });
    expect(table.entries().some((tce) => tce !== 0n)).toBe(false);
    memory.close();
  });

  it('H_STUFF_TCE writes one value into npages entries; npages 0 is a no-op; a range past the window is refused whole', () => {
    const { memory, table, call } = setup();
    expect(call(H.H_STUFF_TCE, 0x1000n, 0x10_0000n | 1n, 4n)).toEqual({ ret: H_SUCCESS });
    expect([...table.entries().subarray(0, 6)]).toEqual([0n, 0x10_0001n, 0x10_0001n, 0x10_0001n, 0x10_0001n, 0n]);
    expect(call(H.H_STUFF_TCE, 0x2000n, 0n, 0n)).toEqual({ ret: H_SUCCESS });
    expect(call(H.H_STUFF_TCE, 64n * MiB - 0x2000n, 0n, 3n)).toEqual({ ret: H_PARAMETER });
    expect(call(H.H_STUFF_TCE, 0x1000n, 0n, 2n)).toEqual({ ret: H_SUCCESS });
    expect([...table.entries().subarray(0, 6)]).toEqual([0n, 0n, 0n, 0x10_0001n, 0x10_0001n, 0n]);
    memory.close();
  });

  it('H_PUT_TCE_INDIRECT reads big-endian TCEs from a 4 KiB-aligned page of guest memory; more than 512, a misaligned list, one bad TCE: H_PARAMETER and nothing written', () => {
    const { memory, table, call } = setup();
    const list = 0x30_0000;
    const view = new DataView(memory.buffer);
    for (let i = 0; i < 8; i++) view.setBigUint64(list + 8 * i, (0x10_0000n + BigInt(i) * 0x1000n) | 3n, false);
    expect(call(H.H_PUT_TCE_INDIRECT, 0x10_0000n, BigInt(list), 8n)).toEqual({ ret: H_SUCCESS });
    expect([...table.entries().subarray(0x100, 0x108)]).toEqual(Array.from({ length: 8 }, (_, i) => (0x10_0000n + BigInt(i) * 0x1000n) | 3n));
    expect(call(H.H_PUT_TCE_INDIRECT, 0n, BigInt(list), 513n)).toEqual({ ret: H_PARAMETER });
    expect(call(H.H_PUT_TCE_INDIRECT, 0n, BigInt(list) + 8n, 1n)).toEqual({ ret: H_PARAMETER });
    expect(call(H.H_PUT_TCE_INDIRECT, 0n, 4n * MiB, 1n)).toEqual({ ret: H_PARAMETER }); // the list is outside RAM
    view.setBigUint64(list + 8 * 3, 0x1800n | 1n, false);
    expect(call(H.H_PUT_TCE_INDIRECT, 0n, BigInt(list), 8n)).toEqual({ ret: H_PARAMETER });
    expect([...table.entries().subarray(0, 8)].every((tce) => tce === 0n)).toBe(true);
    memory.close();
  });

  it('RAM in several slots; H_PUT_TCE_INDIRECT only when asked; one table per LIOBN; bad options are TypeError/RangeError', () => {
    const low = GuestMemory.allocate(MiB);
    const high = GuestMemory.allocate(MiB);
    const table = new UserTceTable({ liobn: LIOBN, windowSize: 16n * MiB, ram: [{ guestPhysAddr: 0n, memory: low }, { guestPhysAddr: 1n << 30n, memory: high }] });
    expect(table.put(0n, (1n << 30n) | 0x1000n | 2n)).toBe(H_SUCCESS);
    expect(table.translate(0n)).toEqual({ guestPhysAddr: (1n << 30n) | 0x1000n, read: false, write: true });
    expect(table.put(0x1000n, (1n << 30n) + MiB | 1n)).toBe(H_PARAMETER); // past the high slot
    const hcalls = new HcallTable();
    const tces = new TceHypercalls([table]);
    tces.register(hcalls, { indirect: false });
    expect(hcalls.dispatch(H.H_PUT_TCE_INDIRECT, [LIOBN, 0n, 0n, 1n])).toEqual({ ret: H_FUNCTION });
    expect(() => tces.add(new UserTceTable({ liobn: LIOBN, windowSize: MiB, ram: low }))).toThrow(expect.objectContaining({ code: 'ERR_TCE_LIOBN_TAKEN' }));
    expect(() => new UserTceTable({ liobn: 1 as never, windowSize: MiB, ram: low })).toThrow(TypeError);
    expect(() => new UserTceTable({ liobn: 1n, windowSize: MiB + 1n, ram: low })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new UserTceTable({ liobn: 1n, windowSize: MiB, pageShift: 11, ram: low })).toThrow(RangeError);
    expect(() => new UserTceTable({ liobn: 1n, windowSize: MiB, ram: [] })).toThrow(TypeError);
    low.close();
    high.close();
  });
});
