// The pseries device tree this VMM hands the kernel in r3. No Open Firmware runs, so it must already
// say what client-architecture-support (CAS) would have agreed: radix MMU with guest tlbie, the XICS
// interrupt controller (Linux arch/powerpc/kernel/prom.c early_check_vec5; QEMU hw/ppc/spapr.c).
import { FdtWriter, Rtas, type SpaprPhb, type Xics, rtasNode } from 'kvm-vfio-spapr/spapr';

/** Where things sit in guest memory, and what the tree describes. */
export interface MachineLayout {
  memorySize: bigint;
  cpus: number;
  initrdStart: bigint;
  initrdEnd: bigint;
  rtasBase: bigint;
  rtasSize: bigint;
  commandLine: string;
  /** KVM_PPC_GET_RMMU_INFO's AP encodings (ibm,processor-radix-AP-encodings). */
  radixApEncodings: readonly number[];
  timebaseHz: number;
}

/** The vty's unit address, which is also its terminal number in H_PUT_TERM_CHAR (QEMU's SPAPR_VIO_REG_BASE). */
export const VTY_REG = 0x7100_0000n;
export const XICS_PHANDLE = 0x1111;
/** Linux's COMMAND_LINE_SIZE on powerpc (arch/powerpc/include/uapi/asm/setup.h), NUL included. */
export const COMMAND_LINE_MAX = 2047;

// ibm,architecture-vec-5 bytes (the option vector CAS would return; byte 0 is the length):
// byte 23 interrupt controller (0: XICS only), byte 24 MMU (0x40: radix), byte 26 radix GTSE
// (0x40). Linux include/asm/prom.h OV5_MMU_RADIX 0x1840, OV5_RADIX_GTSE 0x1A40.
function architectureVector5(): Uint8Array {
  const vector = new Uint8Array(27);
  vector[0] = vector.length - 1;
  vector[24] = 0x40;
  vector[26] = 0x40;
  return vector;
}

// What the kernel may call: ibm,hypertas-functions (Linux arch/powerpc/platforms/pseries/firmware.c).
const HYPERTAS = ['hcall-term', 'hcall-set-mode', 'hcall-interrupt'];

function cpuNode(writer: FdtWriter, id: number, layout: MachineLayout): void {
  writer.beginNode(`PowerPC,POWER9@${id.toString(16)}`)
    .string('device_type', 'cpu')
    .u32('reg', id)
    .u32('ibm,ppc-interrupt-server#s', id)
    .u32('ibm,ppc-interrupt-gserver#s', id, 0)
    .u32('timebase-frequency', layout.timebaseHz)
    .u32('clock-frequency', 1_000_000_000)
    .u32('d-cache-block-size', 128).u32('d-cache-line-size', 128)
    .u32('i-cache-block-size', 128).u32('i-cache-line-size', 128)
    .u32('d-cache-size', 0x8000).u32('i-cache-size', 0x8000)
    .u32('ibm,vmx', 2).u32('ibm,dfp', 1)
    .property('64-bit')
    .string('status', 'okay');
  if (layout.radixApEncodings.length > 0) writer.u32('ibm,processor-radix-AP-encodings', ...layout.radixApEncodings);
  writer.endNode();
}

function cpusNode(writer: FdtWriter, layout: MachineLayout): void {
  writer.beginNode('cpus').u32('#address-cells', 1).u32('#size-cells', 0);
  for (let id = 0; id < layout.cpus; id++) cpuNode(writer, id, layout);
  writer.endNode();
}

function chosenNode(writer: FdtWriter, layout: MachineLayout): void {
  const vty = `/vdevice/vty@${VTY_REG.toString(16)}`;
  writer.beginNode('chosen')
    .string('bootargs', layout.commandLine)
    .u64('linux,initrd-start', layout.initrdStart)
    .u64('linux,initrd-end', layout.initrdEnd)
    .string('linux,stdout-path', vty)
    .string('stdout-path', vty)
    .property('ibm,architecture-vec-5', architectureVector5())
    .endNode();
}

function vdeviceNode(writer: FdtWriter): void {
  writer.beginNode('vdevice')
    .string('device_type', 'vdevice')
    .string('compatible', 'IBM,vdevice')
    .u32('#address-cells', 1).u32('#size-cells', 0)
    .beginNode(`vty@${VTY_REG.toString(16)}`)
    .string('name', 'vty')
    .string('device_type', 'serial')
    .string('compatible', 'hvterm1')
    .u32('reg', Number(VTY_REG))
    .endNode()
    .endNode();
}

/** The flattened device tree for this machine. */
export function buildDeviceTree(layout: MachineLayout, rtas: Rtas, xics: Xics, phbs: readonly SpaprPhb[] = []): Uint8Array {
  const size = layout.memorySize;
  const writer = new FdtWriter().reserve(layout.rtasBase, layout.rtasSize);
  writer.beginNode('')
    .u32('#address-cells', 2).u32('#size-cells', 2)
    .string('model', 'kvm-vfio-spapr reference VMM')
    .string('compatible', 'qemu,pseries')
    .string('device_type', 'chrp');
  chosenNode(writer, layout);
  writer.beginNode('memory@0').string('device_type', 'memory').u64('reg', 0n, size).endNode();
  cpusNode(writer, layout);
  writer.beginNode('rtas');
  rtasNode(writer, rtas, layout.rtasBase);
  // hcall-tce: the guest's IOMMU code maps DMA with H_PUT_TCE (never H_PUT_TCE_INDIRECT: no hcall-multi-tce).
  writer.string('ibm,hypertas-functions', ...HYPERTAS, ...(phbs.length > 0 ? ['hcall-tce'] : [])).endNode();
  vdeviceNode(writer);
  xics.deviceTreeNode(writer, XICS_PHANDLE);
  for (const phb of phbs) phb.deviceTreeNode(writer);
  writer.endNode();
  return writer.finish({ bootCpuId: 0 });
}
