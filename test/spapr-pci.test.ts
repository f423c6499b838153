// lib/spapr's PHB on its own: BAR assignment, the RTAS config calls pseries Linux makes
// (arch/powerpc/kernel/rtas_pci.c), and the device-tree node it probes (dtc must read it without a
// warning). The function here is a plain config-space array; test/power/spapr-vmm.test.mjs puts a
// real VFIO device behind the PHB and boots Linux on it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FdtWriter, SpaprPciBridges, SpaprPhb, type PciFunction } from '../dist/spapr/index.js';

/** A function with BAR0 a 4 KiB 32-bit BAR, BAR1 I/O, BAR2-3 a 1 MiB prefetchable 64-bit BAR. */
function testFunction(): PciFunction & { config: DataView } {
  const config = new DataView(new ArrayBuffer(0x1000));
  config.setUint16(0, 0x1b36, true);
  config.setUint16(2, 0x0005, true);
  config.setUint32(8, 0x00ff0001, true); // revision 1, class 0x00ff00
  config.setUint16(0x2c, 0x1af4, true);
  config.setUint16(0x2e, 0x1100, true);
  config.setUint32(0x14, 0x1, true); // I/O
  config.setUint32(0x18, 0xc, true); // 64-bit, prefetchable
  const sizes = [0x1000n, 0x100n, 0x10_0000n, 0n, 0n, 0n];
  return {
    config,
    readConfig: (offset, width) => (width === 1 ? config.getUint8(offset) : width === 2 ? config.getUint16(offset, true) : config.getUint32(offset, true)),
    writeConfig: (offset, width, value) => (width === 1 ? config.setUint8(offset, value) : width === 2 ? config.setUint16(offset, value, true) : config.setUint32(offset, value, true)),
    barSize: (index) => sizes[index]!,
  };
}

/** The PHB's node (after `before`'s nodes) in a root, as dtc decompiles it; dtc must not warn. */
function decompile(phb: SpaprPhb, before: (writer: FdtWriter) => void = () => {}): string {
  const writer = new FdtWriter();
  writer.beginNode('').u32('#address-cells', 2).u32('#size-cells', 2);
  before(writer);
  phb.deviceTreeNode(writer);
  writer.endNode();
  const path = join(mkdtempSync(join(tmpdir(), 'kvs-pci-')), 'phb.dtb');
  writeFileSync(path, writer.finish());
  const result = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', path], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  expect(result.stderr).toBe('');
  return result.stdout;
}

let dtcMissing = '';
beforeAll(() => {
  const install = spawnSync('bash', [join(__dirname, '..', 'scripts', 'host-tools.sh')], { encoding: 'utf8' });
  if (install.status !== 0) dtcMissing = `dtc cannot be installed here (${install.stderr.trim()})`;
});

describe('SpaprPhb', () => {
  it('assigns memory BARs naturally aligned in its windows and writes them to the BAR registers; I/O BARs stay unassigned', () => {
    const phb = new SpaprPhb({ index: 1, liobn: 0x8000_0001n, dmaWindowSize: 1n << 30n });
    const fn = testFunction();
    const bars = phb.attach(0, fn);
    expect(bars.map(({ index, kind, prefetchable, size }) => ({ index, kind, prefetchable, size }))).toEqual([
      { index: 0, kind: 'mem32', prefetchable: false, size: 0x1000n },
      { index: 2, kind: 'mem64', prefetchable: true, size: 0x10_0000n },
    ]);
    expect(bars[0]!.busAddress).toBe(0x8000_0000n);
    expect(bars[0]!.guestPhysAddr).toBe(phb.mem32Base);
    expect(bars[1]!.busAddress % 0x10_0000n).toBe(0n);
    expect(fn.config.getUint32(0x10, true)).toBe(0x8000_0000);
    expect(BigInt((fn.config.getUint32(0x18, true) & ~0xf) >>> 0) | (BigInt(fn.config.getUint32(0x1c, true)) << 32n)).toBe(bars[1]!.busAddress);
    expect(fn.config.getUint32(0x14, true)).toBe(0x1);
    expect(() => phb.attach(0, testFunction())).toThrow(expect.objectContaining({ code: 'ERR_PCI_DEVFN_TAKEN' }));
    expect(() => new SpaprPhb({ index: 0, liobn: 1n, dmaWindowSize: 1n << 30n })).toThrow(RangeError);
    const twoGiB32 = { ...testFunction(), barSize: (index: number) => (index === 0 ? 1n << 31n : 0n) };
    expect(() => phb.attach(0x10, twoGiB32)).toThrow(expect.objectContaining({ code: 'ERR_PCI_WINDOW_FULL' })); // the 4 KiB BAR holds the window's start
  });

  it('answers ibm,read-pci-config / ibm,write-pci-config by BUID and config address (extended registers in bits 28-31); bad sizes, misaligned or absent functions: -1', () => {
    const phb = new SpaprPhb({ index: 2, liobn: 0x8000_0002n, dmaWindowSize: 1n << 30n });
    const fn = testFunction();
    phb.attach(0x08, fn); // slot 1
    const calls = new SpaprPciBridges().add(phb).rtasCalls();
    const hi = Number(phb.buid >> 32n);
    const lo = Number(phb.buid & 0xffff_ffffn);
    const read = (address: number, size: number) => calls['ibm,read-pci-config']!([address, hi, lo, size], 2);
    expect(read(0x0800, 4)).toEqual([0, 0x00051b36]);
    expect(read(0x0802, 2)).toEqual([0, 0x0005]);
    expect(read(0x0808, 1)).toEqual([0, 1]);
    fn.config.setUint32(0x104, 0xdead_beef, true);
    expect(read(0x1000_0804, 4)).toEqual([0, 0xdead_beef]); // register 0x104
    expect(calls['ibm,write-pci-config']!([0x0804, hi, lo, 2, 0x0106], 1)).toEqual([0]);
    expect(fn.config.getUint16(4, true)).toBe(0x0106);
    expect(read(0x0801, 2)).toEqual([-1, 0]); // misaligned
    expect(read(0x0800, 3)).toEqual([-1, 0]);
    expect(read(0x1000, 4)).toEqual([-1, 0]); // slot 2: nothing there
    expect(read(0x1_0800, 4)).toEqual([-1, 0]); // bus 1
    expect(calls['ibm,read-pci-config']!([0x0800, hi, lo + 1, 4], 2)).toEqual([-1, 0]); // another BUID
  });

  it('writes a PHB node pseries Linux probes and dtc reads without a warning: ranges, bus-range, ibm,dma-window, an MSI domain size, one child with reg and assigned-addresses and no MSI request', () => {
    if (dtcMissing) return console.log(`skipped: ${dtcMissing}`);
    const phb = new SpaprPhb({ index: 1, liobn: 0x8000_0001n, dmaWindowSize: 1n << 30n });
    const [bar0, bar2] = phb.attach(0, testFunction());
    const dts = decompile(phb);
    expect(dts).toContain('pci@800000020000001 {');
    expect(dts).toContain('compatible = "IBM,Logical_PHB";');
    expect(dts).toContain('bus-range = <0x00 0xff>;');
    expect(dts).toContain('ibm,dma-window = <0x80000001 0x00 0x00 0x00 0x40000000>;');
    expect(dts).toContain('ibm,pe-total-#msi = <0x20>;');
    expect(dts).not.toMatch(/ibm,req#msi/);
    expect(dts).toContain('pci1b36,5@0 {');
    expect(dts).toContain('vendor-id = <0x1b36>;');
    expect(dts).toContain('class-code = <0xff00>;');
    const hex = (n: bigint) => `0x${n.toString(16).padStart(2, '0')}`;
    expect(dts).toContain(`assigned-addresses = <0x82000010 0x00 ${hex(bar0!.busAddress)} 0x00 0x1000 0xc3000018 ${hex(bar2!.busAddress >> 32n)} ${hex(bar2!.busAddress & 0xffff_ffffn)} 0x00 0x100000>;`);
  });

  it('wires a function\'s INTx to a level-triggered source of its interrupt parent (the node\'s own interrupts, as of_irq_parse_pci reads first); without a parent it refuses', () => {
    if (dtcMissing) return console.log(`skipped: ${dtcMissing}`);
    expect(() => new SpaprPhb({ index: 1, liobn: 1n, dmaWindowSize: 1n << 30n }).attach(0, testFunction(), { intx: 0x1101 })).toThrow(expect.objectContaining({ code: 'ERR_PCI_NO_INTERRUPT_PARENT' }));
    expect(() => new SpaprPhb({ index: 1, liobn: 1n, dmaWindowSize: 1n << 30n, interruptParent: 0x1111 }).attach(0, testFunction(), { intx: 3 })).toThrow(RangeError);
    const phb = new SpaprPhb({ index: 2, liobn: 0x8000_0002n, dmaWindowSize: 1n << 30n, interruptParent: 0x1111 });
    phb.attach(0, testFunction(), { intx: 0x1102 });
    phb.attach(8, testFunction()); // no INTx: no interrupts property
    const dts = decompile(phb, (writer) => writer.beginNode('interrupt-controller').property('interrupt-controller').u32('#interrupt-cells', 2).u32('#address-cells', 0).u32('phandle', 0x1111).endNode());
    const [first, second] = dts.split('pci1b36,5@').slice(1);
    expect(first).toContain('interrupts = <0x1102 0x01>;');
    expect(first).toContain('interrupt-parent = <0x1111>;');
    expect(second).not.toContain('interrupts');
  });
});
