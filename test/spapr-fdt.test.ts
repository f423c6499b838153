// lib/spapr/fdt.ts against Debian's dtc (device-tree-compiler, installed by scripts/host-tools.sh):
// our blob and dtc's own compile of the same source decompile to the same text, and the reference
// VMM's pseries tree is one dtc reads without a warning.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FdtWriter, Rtas, Xics } from '../dist/spapr/index.js';
import { buildDeviceTree } from '../dist/examples/spapr-vmm/device-tree.js';

let dtcMissing = '';
beforeAll(() => {
  const install = spawnSync('bash', [join(__dirname, '..', 'scripts', 'host-tools.sh')], { encoding: 'utf8' });
  if (install.status !== 0) dtcMissing = `dtc cannot be installed here (${install.stderr.trim()})`;
});

const folder = mkdtempSync(join(tmpdir(), 'kvs-fdt-'));
function decompile(blob: Uint8Array): { dts: string; warnings: string } {
  const path = join(folder, 'tree.dtb');
  writeFileSync(path, blob);
  const result = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', '-s', path], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return { dts: result.stdout, warnings: result.stderr };
}

const SOURCE = `/dts-v1/;
/memreserve/ 0x10000000 0x20000;
/ {
\t#address-cells = <2>;
\t#size-cells = <2>;
\tcompatible = "qemu,pseries";
\tchosen {
\t\tbootargs = "console=hvc0 quiet";
\t\tlinux,initrd-start = <0x0 0x2800000>;
\t\tflag;
\t\tbytes = [01 02 03];
\t};
\tcpus {
\t\t#address-cells = <1>;
\t\t#size-cells = <0>;
\t\tlist = "a", "bc";
\t\tPowerPC,POWER9@0 {
\t\t\treg = <0x0>;
\t\t\tcells = <0x1 0xffffffff>;
\t\t};
\t};
};
`;

function ourTree(): Uint8Array {
  return new FdtWriter().reserve(0x1000_0000n, 0x20000n)
    .beginNode('').u32('#address-cells', 2).u32('#size-cells', 2).string('compatible', 'qemu,pseries')
    .beginNode('chosen').string('bootargs', 'console=hvc0 quiet').u64('linux,initrd-start', 0x280_0000n).property('flag').property('bytes', Uint8Array.of(1, 2, 3)).endNode()
    .beginNode('cpus').u32('#address-cells', 1).u32('#size-cells', 0).string('list', 'a', 'bc').beginNode('PowerPC,POWER9@0').u32('reg', 0).u32('cells', 1, 0xffff_ffff).endNode().endNode()
    .endNode().finish();
}

describe('FdtWriter', () => {
  it('writes what dtc compiles from the same source (both decompile to the same text)', (ctx) => {
    if (dtcMissing) return ctx.skip(dtcMissing);
    const source = join(folder, 'tree.dts');
    writeFileSync(source, SOURCE);
    const theirs = execFileSync('dtc', ['-I', 'dts', '-O', 'dtb', source]);
    const ours = decompile(ourTree());
    expect(ours.warnings).toBe('');
    expect(ours.dts).toBe(decompile(theirs).dts);
    expect(ours.dts).toMatch(/\/memreserve\/\s+0x0*10000000 0x0*20000;/);
  });

  it('has a v17 header, deduplicates property names, and refuses bad names and unbalanced nodes', () => {
    const blob = ourTree();
    const view = new DataView(blob.buffer);
    expect(view.getUint32(0)).toBe(0xd00dfeed);
    expect(view.getUint32(4)).toBe(blob.length);
    expect([view.getUint32(20), view.getUint32(24)]).toEqual([17, 16]);
    const strings = Buffer.from(blob.subarray(view.getUint32(12))).toString('latin1');
    expect(strings.split('\0').filter((name) => name === 'reg')).toHaveLength(1);
    expect(() => new FdtWriter().beginNode('').beginNode('bad name')).toThrow(TypeError);
    expect(() => new FdtWriter().beginNode('').property('bad name')).toThrow(TypeError);
    expect(() => new FdtWriter().beginNode('').u32('reg', -1)).toThrow(RangeError);
    expect(() => new FdtWriter().beginNode('').beginNode('')).toThrow(TypeError);
    for (const misuse of [() => new FdtWriter().property('x'), () => new FdtWriter().beginNode('').finish(), () => new FdtWriter().endNode()]) {
      expect(misuse).toThrow(expect.objectContaining({ code: 'ERR_FDT_STATE' }));
    }
  });

  it("the reference VMM's pseries tree reads cleanly in dtc: radix and GTSE in ibm,architecture-vec-5, one-cell RTAS addresses, XICS", (ctx) => {
    if (dtcMissing) return ctx.skip(dtcMissing);
    const rtas = new Rtas(new DataView(new ArrayBuffer(0x1000)));
    rtas.define('power-off', () => [0]);
    const xics = new Xics({ servers: 2, sources: 16, setLine: () => {} });
    xics.register(new (class { on() { return this; } })() as never, rtas);
    const layout = { memorySize: 512n << 20n, cpus: 2, initrdStart: 0x2a0_0000n, initrdEnd: 0x2b0_0000n, rtasBase: 0x2c0_0000n, rtasSize: 0x1_0000n, commandLine: 'console=hvc0', radixApEncodings: [12, 0xa000_0010], timebaseHz: 512_000_000 };
    const { dts, warnings } = decompile(buildDeviceTree(layout, rtas, xics));
    expect(warnings).toBe('');
    expect(dts).toMatch(/ibm,architecture-vec-5 = \[1a (00 ){23}40 00 40\];/);
    expect(dts).toContain('linux,rtas-base = <0x2c00000>;');
    expect(dts).toContain('power-off = <0x2000>;');
    expect(dts).toContain('ibm,set-xive = <0x2001>;');
    expect(dts).toContain('compatible = "IBM,ppc-xicp";');
    expect(dts).toContain('ibm,interrupt-server-ranges = <0x00 0x02>;');
    expect(dts).toContain('PowerPC,POWER9@1 {');
    expect(dts).toContain('ibm,processor-radix-AP-encodings = <0x0c 0xa0000010>;');
    expect(dts).toMatch(/\/memreserve\/\s+0x0*2c00000 0x0*10000;/);
  });
});
