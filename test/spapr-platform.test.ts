// lib/spapr's hypercall table, vty console, RTAS dispatch and user-space XICS, each on its own.
import { describe, expect, it } from 'vitest';
import { H, HcallTable, HvTerminal, Rtas, RtasStatus, XICS_IPI, Xics, standardRtasCalls } from '../dist/spapr/index.js';

const H_SUCCESS = 0n;
const H_FUNCTION = -2n;
const H_PARAMETER = -4n;

describe('HcallTable', () => {
  it('dispatches by number, answers H_FUNCTION to unknown calls, counts every call and names numbers', () => {
    const table = new HcallTable().on(H.H_RANDOM, () => ({ ret: H_SUCCESS, args: [4n] }));
    expect(table.dispatch(H.H_RANDOM, [])).toEqual({ ret: H_SUCCESS, args: [4n] });
    expect(table.dispatch(0x1234n, [])).toEqual({ ret: H_FUNCTION });
    expect([...table.counts]).toEqual([[H.H_RANDOM, 1], [0x1234n, 1]]);
    expect([HcallTable.nameOf(H.H_PUT_TERM_CHAR), HcallTable.nameOf(0x1234n)]).toEqual(['H_PUT_TERM_CHAR', '0x1234']);
    expect(() => table.on(H.H_RANDOM, () => ({ ret: 0n }))).toThrow(expect.objectContaining({ code: 'ERR_HCALL_TAKEN' }));
    expect(() => table.dispatch(1 as never, [])).toThrow(TypeError);
    expect(() => table.dispatch(1n, [1 as never])).toThrow(TypeError);
  });

  it('has the numbers of Linux arch/powerpc/include/asm/hvcall.h', () => {
    expect({ put: H.H_PUT_TERM_CHAR, get: H.H_GET_TERM_CHAR, mode: H.H_SET_MODE, proc: H.H_REGISTER_PROC_TBL, rtas: H.H_RTAS, tce: H.H_PUT_TCE, stuff: H.H_STUFF_TCE, indirect: H.H_PUT_TCE_INDIRECT })
      .toEqual({ put: 0x58n, get: 0x54n, mode: 0x31cn, proc: 0x37cn, rtas: 0xf000n, tce: 0x20n, stuff: 0x138n, indirect: 0x124n });
  });
});

describe('HvTerminal', () => {
  it('unpacks H_PUT_TERM_CHAR bytes most significant first across r6 and r7, and packs H_GET_TERM_CHAR the same way', () => {
    const written: number[] = [];
    const vty = new HvTerminal({ write: (bytes) => written.push(...bytes), termno: 0x7100_0000n });
    const text = Buffer.from('Hello, POWER9!\r\n');
    const r6 = text.readBigUInt64BE(0);
    const r7 = text.readBigUInt64BE(8);
    expect(vty.putTermChar([0x7100_0000n, 16n, r6, r7])).toEqual({ ret: H_SUCCESS });
    expect(Buffer.from(written).toString()).toBe('Hello, POWER9!\r\n');
    expect(vty.putTermChar([0n, 1n, 0n, 0n])).toEqual({ ret: H_PARAMETER });
    expect(vty.putTermChar([0x7100_0000n, 17n, 0n, 0n])).toEqual({ ret: H_PARAMETER });
    vty.input('ls\n');
    expect(vty.getTermChar([0x7100_0000n])).toEqual({ ret: H_SUCCESS, args: [3n, 0x6c730a0000000000n, 0n] });
    expect(vty.getTermChar([0x7100_0000n])).toEqual({ ret: H_SUCCESS, args: [0n, 0n, 0n] });
  });
});

/** Guest RAM with an rtas_args at 0x100: token, nargs, nret, args, rets (big-endian). */
function rtasCall(ram: DataView, token: number, args: number[], nret: number): number[] {
  [token, args.length, nret, ...args].forEach((word, i) => ram.setUint32(0x100 + i * 4, word));
  return Array.from({ length: nret }, (_, i) => 0x100 + (3 + args.length + i) * 4);
}

describe('Rtas', () => {
  it('reads the big-endian rtas_args, runs the call by token and writes its returns; -3 for an unknown token', () => {
    const ram = new DataView(new ArrayBuffer(0x1000));
    const rtas = new Rtas(ram);
    let off = 0;
    const calls = standardRtasCalls({ powerOff: () => (off += 1), now: () => new Date(Date.UTC(2026, 11, 6, 3, 4, 5, 6)) });
    for (const [name, handler] of Object.entries(calls)) rtas.define(name, handler);
    let rets = rtasCall(ram, rtas.tokens.get('get-time-of-day')!, [], 8);
    expect(rtas.handle(0x100n)).toEqual({ ret: H_SUCCESS });
    expect(rets.map((at) => ram.getInt32(at))).toEqual([0, 2026, 12, 6, 3, 4, 5, 6_000_000]);
    rets = rtasCall(ram, rtas.tokens.get('power-off')!, [0xffff_ffff, 0xffff_ffff], 1);
    rtas.handle(0x100n);
    expect([off, ram.getInt32(rets[0]!)]).toEqual([1, RtasStatus.SUCCESS]);
    rets = rtasCall(ram, 0x7777, [], 1);
    rtas.handle(0x100n);
    expect(ram.getInt32(rets[0]!)).toBe(RtasStatus.PARAMETER_ERROR);
    expect(rtas.counts.get('unknown')).toBe(1);
    expect(rtas.handle(0x2000n)).toEqual({ ret: H_PARAMETER });
    expect([...Rtas.blob()].map((byte) => byte.toString(16).padStart(2, '0')).join('')).toBe('7c641b78386000006063f000440000224e800020');
  });
});

describe('Xics (in user space)', () => {
  function controller(servers = 2) {
    const lines: [number, boolean][] = [];
    let server = 0;
    const ram = new DataView(new ArrayBuffer(0x1000));
    const table = new HcallTable();
    const rtas = new Rtas(ram);
    const xics = new Xics({ servers, sources: 8, setLine: (s, raised) => lines.push([s, raised]), currentServer: () => server });
    xics.register(table, rtas);
    const as = (s: number) => (server = s);
    const xive = (irq: number, target: number, priority: number) => {
      const [ret] = rtasCall(ram, rtas.tokens.get('ibm,set-xive')!, [irq, target, priority], 1);
      rtas.handle(0x100n);
      return ram.getInt32(ret!);
    };
    return { xics, table, lines, as, xive, ram, rtas };
  }
  const call = (table: HcallTable, nr: bigint, ...args: bigint[]) => table.dispatch(nr, args);

  it('an IPI raises the target line; H_XIRR takes it (source 2) and lowers the line; H_EOI restores the CPPR', () => {
    const { table, lines, as } = controller();
    as(1);
    call(table, H.H_CPPR, 0xffn);
    as(0);
    call(table, H.H_IPI, 1n, 5n);
    expect(lines).toEqual([[1, true]]);
    as(1);
    const xirr = call(table, H.H_XIRR).args![0]!;
    expect(xirr).toBe(0xff00_0000n | BigInt(XICS_IPI));
    expect(lines).toEqual([[1, true], [1, false]]);
    call(table, H.H_IPI, 1n, 0xffn);
    call(table, H.H_EOI, xirr);
    expect(call(table, H.H_IPOLL).args).toEqual([0xff00_0000n, 0xffn]);
  });

  it('an MSI goes to the server set-xive chose, at its priority; a CPPR below its priority holds it back until raised', () => {
    const { xics, table, lines, as, xive } = controller();
    const irq = xics.firstIrq + 3;
    as(1);
    call(table, H.H_CPPR, 0xffn); // a server starts with CPPR 0: nothing gets through until the guest opens it
    xics.pulse(irq);
    expect(lines).toEqual([]); // masked (priority 0xff) until set-xive
    expect(xive(irq, 1, 5)).toBe(RtasStatus.SUCCESS);
    expect(lines).toEqual([[1, true]]); // the pending MSI is delivered once unmasked
    as(1);
    expect(call(table, H.H_XIRR).args![0]).toBe((0xff00_0000n | BigInt(irq))); // accepting lowers the line
    call(table, H.H_EOI, (0xff00_0000n | BigInt(irq)));
    call(table, H.H_CPPR, 4n); // only priorities below 4 get through now
    xics.pulse(irq);
    expect(lines).toEqual([[1, true], [1, false]]);
    call(table, H.H_CPPR, 0xffn); // the rejected MSI is resent
    expect(lines.at(-1)).toEqual([1, true]);
    expect(xive(99, 0, 5)).toBe(RtasStatus.PARAMETER_ERROR);
  });

  it('a level-triggered source still asserted at EOI is presented again', () => {
    const { xics, table, lines, xive } = controller(1);
    const irq = xics.firstIrq;
    xics.setLsi(irq, true);
    xive(irq, 0, 5);
    call(table, H.H_CPPR, 0xffn);
    xics.raise(irq);
    expect(lines).toEqual([[0, true]]);
    const xirr = call(table, H.H_XIRR).args![0]!;
    call(table, H.H_EOI, xirr);
    expect(lines).toEqual([[0, true], [0, false], [0, true]]);
    call(table, H.H_XIRR);
    xics.lower(irq);
    call(table, H.H_EOI, xirr);
    expect(lines.at(-1)).toEqual([0, false]);
  });

  it('onEoi runs at the guest\'s EOI of that source, before the controller resends: a passed-through INTx lowered there is not presented again', () => {
    const { xics, table, lines, xive } = controller(1);
    const irq = xics.firstIrq + 1;
    const eois: number[] = [];
    xics.setLsi(irq, true);
    xics.onEoi(irq, () => {
      eois.push(irq);
      xics.lower(irq);
    });
    xive(irq, 0, 5);
    call(table, H.H_CPPR, 0xffn);
    xics.raise(irq);
    const xirr = call(table, H.H_XIRR).args![0]!;
    call(table, H.H_EOI, xirr);
    expect(eois).toEqual([irq]);
    expect(lines).toEqual([[0, true], [0, false]]); // lowered in the listener: no second presentation
    call(table, H.H_EOI, 0xff00_0000n | BigInt(xics.firstIrq)); // another source's EOI does not call it
    expect(eois).toEqual([irq]);
    expect(() => xics.onEoi(1, () => {})).toThrow(RangeError);
    expect(() => xics.onEoi(irq, 'no' as never)).toThrow(TypeError);
  });
});
