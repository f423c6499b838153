// A pseries PCI host bridge (PHB) for passed-through functions: the guest finds them in the device
// tree (pseries Linux probes PCI from it: arch/powerpc/platforms/pseries/setup.c
// pSeries_pci_probe_mode, arch/powerpc/kernel/pci_of_scan.c of_create_pci_dev) and reaches their
// config space through RTAS ibm,read-pci-config / ibm,write-pci-config (arch/powerpc/kernel/rtas_pci.c).
// Firmware assigns the BARs on pseries, so this PHB does: each BAR gets a naturally aligned bus
// address in the PHB's 32- or 64-bit window, written to the function's BAR register (vfio-pci
// keeps BARs virtual: drivers/vfio/pci/vfio_pci_config.c). QEMU: hw/ppc/spapr_pci.c.
import { checkBigU64, checkInteger, invalidArgType } from '../validate.js';
import { PciRegion, type VfioDevice } from '../vfio-device.js';
import type { FdtWriter } from './fdt.js';
import { type RtasHandler, RtasStatus } from './rtas.js';

/** What a PHB needs of a PCI function: its config space and its BAR sizes. */
export interface PciFunction {
  /** Reads `width` (1, 2 or 4) bytes of config space at `offset`. */
  readConfig(offset: number, width: number): number;
  /** Writes them. */
  writeConfig(offset: number, width: number, value: number): void;
  /** Size of BAR `index` (0..5) in bytes; 0 when the function has none there. */
  barSize(index: number): bigint;
}

/** A VfioDevice as a PciFunction: config through the VFIO config region, BAR sizes from its region info. */
export function vfioPciFunction(device: VfioDevice): PciFunction {
  return {
    readConfig: (offset, width) => device.readConfig(offset, width),
    writeConfig: (offset, width, value) => device.writeConfig(offset, width, value),
    barSize: (index) => device.regionInfo(PciRegion.BAR0 + index).size,
  };
}

/** One BAR as the PHB assigned it. */
export interface AssignedBar {
  /** The BAR number, 0..5. */
  index: number;
  /** 'mem32' or 'mem64' (I/O BARs are left unassigned). */
  kind: 'mem32' | 'mem64';
  /** Prefetchable memory. */
  prefetchable: boolean;
  /** Size in bytes. */
  size: bigint;
  /** Bus address (what the BAR register holds). */
  busAddress: bigint;
  /** Guest-physical address (where the VMM maps or traps it). */
  guestPhysAddr: bigint;
}

/** Options of {@link SpaprPhb}. */
export interface SpaprPhbOptions {
  /** The PHB's index (1 and up; QEMU's default PHB is 0): fixes its BUID and windows. */
  index: number;
  /** The LIOBN of its DMA window (ibm,dma-window), e.g. the one attachIommuGroup linked. */
  liobn: bigint;
  /** Size of that DMA window in bytes, from bus address 0. */
  dmaWindowSize: bigint;
  /** The phandle of the interrupt controller its functions' INTx lines go to (the XICS node's). */
  interruptParent?: number;
}

/** Options of {@link SpaprPhb.attach}. */
export interface PciAttachOptions {
  /** The interrupt source the function's INTx pin is wired to (a level-triggered XICS source). */
  intx?: number;
}

// Layout after QEMU's (hw/ppc/spapr_pci.c SPAPR_PCI_BASE_BUID, SPAPR_PCI_BASE): 64 GiB of
// guest-physical space per PHB from 2^45, a 2 GiB 32-bit window at bus 0x80000000 first.
const BASE_BUID = 0x800000020000000n;
const WINDOWS_BASE = 1n << 45n;
const WINDOWS_PER_PHB = 64n << 30n;
const MEM32_BUS = 0x8000_0000n;
const MEM32_SIZE = 0x8000_0000n;
const MEM64_SIZE = 32n << 30n;
/** The size of the PHB's MSI domain (ibm,pe-total-#msi); no MSI is handed out yet, so any non-zero count will do. */
const PE_TOTAL_MSI = 32;

const CONFIG_SPACE_SIZE = 0x1000;
const BAR0 = 0x10;
const SUBSYSTEM_VENDOR = 0x2c;
const SUBSYSTEM = 0x2e;
const BAR_IO = 0x1;
const BAR_MEM64 = 0x4;
const BAR_PREFETCH = 0x8;
// Open Firmware PCI address phys.hi bits (IEEE 1275 PCI binding): n, p, ss.
const OF_NON_RELOCATABLE = 0x8000_0000;
const OF_PREFETCHABLE = 0x4000_0000;
const OF_MEM32 = 0x0200_0000;
const OF_MEM64 = 0x0300_0000;

const hex = (value: bigint | number) => value.toString(16);
const cells64 = (value: bigint) => [Number(value >> 32n), Number(value & 0xffff_ffffn)];

interface Slot {
  devfn: number;
  fn: PciFunction;
  bars: AssignedBar[];
  intx: number | undefined;
}

/** One PHB with the functions on its bus 0. */
export class SpaprPhb {
  /** The PHB's index. */
  readonly index: number;
  /** Its bus unit id: what the guest passes to the RTAS config calls (and the node's reg). */
  readonly buid: bigint;
  /** The LIOBN of its DMA window. */
  readonly liobn: bigint;
  /** The DMA window's size in bytes. */
  readonly dmaWindowSize: bigint;
  /** Guest-physical start of the 32-bit window (bus address 0x80000000). */
  readonly mem32Base: bigint;
  /** Guest-physical start of the 64-bit window (bus address = guest-physical address). */
  readonly mem64Base: bigint;
  readonly #interruptParent: number | undefined;
  readonly #slots = new Map<number, Slot>();
  #next32: bigint;
  #next64: bigint;

  constructor(options: SpaprPhbOptions) {
    this.index = checkInteger('options.index', options?.index, 1, 255);
    this.liobn = checkBigU64('options.liobn', options.liobn, 0n, 0xffff_ffffn);
    this.dmaWindowSize = checkBigU64('options.dmaWindowSize', options.dmaWindowSize, 0x1000n);
    if (options.interruptParent !== undefined) checkInteger('options.interruptParent', options.interruptParent, 1, 0xffff_fffe);
    this.#interruptParent = options.interruptParent;
    this.buid = BASE_BUID + BigInt(this.index);
    this.mem32Base = WINDOWS_BASE + BigInt(this.index) * WINDOWS_PER_PHB;
    this.mem64Base = this.mem32Base + MEM32_SIZE;
    this.#next32 = MEM32_BUS;
    this.#next64 = this.mem64Base;
  }

  /** Puts `fn` at `devfn` (slot << 3 | function) and assigns its memory BARs; returns them. */
  attach(devfn: number, fn: PciFunction, options: PciAttachOptions = {}): AssignedBar[] {
    checkInteger('devfn', devfn, 0, 0xff);
    const intx = options.intx === undefined ? undefined : checkInteger('options.intx', options.intx, 16, 0xff_ffff);
    if (intx !== undefined && this.#interruptParent === undefined) throw Object.assign(new Error(`PHB ${this.index} has no interruptParent: give SpaprPhbOptions.interruptParent (the XICS phandle) to wire INTx`), { code: 'ERR_PCI_NO_INTERRUPT_PARENT' });
    if (typeof fn?.readConfig !== 'function' || typeof fn.writeConfig !== 'function' || typeof fn.barSize !== 'function') throw invalidArgType('fn', 'a PciFunction', fn);
    if (this.#slots.has(devfn)) throw Object.assign(new Error(`devfn 0x${hex(devfn)} of PHB ${this.index} is taken`), { code: 'ERR_PCI_DEVFN_TAKEN' });
    const bars = this.#assignBars(fn);
    this.#slots.set(devfn, { devfn, fn, bars, intx });
    return bars;
  }

  /** The BARs assigned to the function at `devfn`. */
  bars(devfn: number): readonly AssignedBar[] {
    return this.#slots.get(devfn)?.bars ?? [];
  }

  /** Memory BARs, largest first (natural alignment packs them), each in its window, written into the BAR registers. */
  #assignBars(fn: PciFunction): AssignedBar[] {
    const found: Omit<AssignedBar, 'busAddress' | 'guestPhysAddr'>[] = [];
    for (let index = 0; index < 6; index++) {
      const low = fn.readConfig(BAR0 + 4 * index, 4);
      const size = fn.barSize(index);
      const mem64 = (low & BAR_IO) === 0 && (low & 0x6) === BAR_MEM64;
      if (size > 0n && (low & BAR_IO) === 0) found.push({ index, kind: mem64 ? 'mem64' : 'mem32', prefetchable: (low & BAR_PREFETCH) !== 0, size });
      if (mem64) index += 1; // the upper half
    }
    found.sort((a, b) => (a.size === b.size ? 0 : a.size > b.size ? -1 : 1));
    return found.map((bar) => {
      const assigned = bar.kind === 'mem64' ? this.#take64(bar.size) : this.#take32(bar.size);
      const offset = BAR0 + 4 * bar.index;
      fn.writeConfig(offset, 4, (Number(assigned.busAddress & 0xffff_fff0n) | (fn.readConfig(offset, 4) & 0xf)) >>> 0);
      if (bar.kind === 'mem64') fn.writeConfig(offset + 4, 4, Number(assigned.busAddress >> 32n));
      return { ...bar, ...assigned };
    }).sort((a, b) => a.index - b.index);
  }

  #take32(size: bigint): { busAddress: bigint; guestPhysAddr: bigint } {
    const busAddress = alignUp(this.#next32, size);
    if (busAddress + size > MEM32_BUS + MEM32_SIZE) throw Object.assign(new Error(`PHB ${this.index}: no room for a ${size}-byte BAR in the 32-bit window`), { code: 'ERR_PCI_WINDOW_FULL' });
    this.#next32 = busAddress + size;
    return { busAddress, guestPhysAddr: this.mem32Base + (busAddress - MEM32_BUS) };
  }

  #take64(size: bigint): { busAddress: bigint; guestPhysAddr: bigint } {
    const address = alignUp(this.#next64, size);
    if (address + size > this.mem64Base + MEM64_SIZE) throw Object.assign(new Error(`PHB ${this.index}: no room for a ${size}-byte BAR in the 64-bit window`), { code: 'ERR_PCI_WINDOW_FULL' });
    this.#next64 = address + size;
    return { busAddress: address, guestPhysAddr: address };
  }

  /** RTAS config access, once the BUID matched: [status, value] for reads, [status] for writes. */
  config(configAddress: number, size: number, value?: number): number[] {
    // rtas_pci.c rtas_config_addr: reg bits 8-11 in bits 28-31, bus in 16-23, devfn in 8-15, reg bits 0-7.
    const offset = ((configAddress >>> 20) & 0xf00) | (configAddress & 0xff);
    const bus = (configAddress >>> 16) & 0xff;
    const slot = bus === 0 ? this.#slots.get((configAddress >>> 8) & 0xff) : undefined;
    if (![1, 2, 4].includes(size) || offset % size !== 0 || offset + size > CONFIG_SPACE_SIZE || !slot) return value === undefined ? [RtasStatus.HARDWARE_ERROR, 0] : [RtasStatus.HARDWARE_ERROR];
    if (value === undefined) return [RtasStatus.SUCCESS, slot.fn.readConfig(offset, size)];
    slot.fn.writeConfig(offset, size, (value >>> 0) % 2 ** (8 * size));
    return [RtasStatus.SUCCESS];
  }

  /** Writes this PHB's node and one child node per function (call it inside the root node). */
  deviceTreeNode(writer: FdtWriter): void {
    writer.beginNode(`pci@${hex(this.buid)}`)
      .string('device_type', 'pci')
      .string('compatible', 'IBM,Logical_PHB')
      .u32('#address-cells', 3).u32('#size-cells', 2).u32('#interrupt-cells', 1)
      .u64('reg', this.buid, 0x1000_0000n)
      .u32('bus-range', 0, 0xff)
      .u32('ibm,pci-config-space-type', 1)
      .u32('ranges',
        OF_MEM32, 0, Number(MEM32_BUS), ...cells64(this.mem32Base), ...cells64(MEM32_SIZE),
        OF_MEM64, ...cells64(this.mem64Base), ...cells64(this.mem64Base), ...cells64(MEM64_SIZE))
      .u32('ibm,#dma-address-cells', 2).u32('ibm,#dma-size-cells', 2)
      .u32('ibm,dma-window', Number(this.liobn), 0, 0, ...cells64(this.dmaWindowSize))
      // Without it pseries_msi_allocate_domains (arch/powerpc/platforms/pseries/msi.c) gives the PHB no MSI
      // domain, the XICS domain (whose match ignores the bus token) is taken for one, and the guest's first
      // pci_alloc_irq_vectors oopses in pci_msi_domain_supports. With no ibm,req#msi(-x) in the function nodes,
      // rtas_prepare_msi_irqs then refuses MSI and drivers fall back to INTx.
      .u32('ibm,pe-total-#msi', PE_TOTAL_MSI);
    for (const slot of [...this.#slots.values()].sort((a, b) => a.devfn - b.devfn)) this.#functionNode(writer, slot);
    writer.endNode();
  }

  #functionNode(writer: FdtWriter, { devfn, fn, bars, intx }: Slot): void {
    const read = (offset: number, width: number) => fn.readConfig(offset, width);
    const [vendor, device] = [read(0, 2), read(2, 2)];
    const unit = (devfn & 7) === 0 ? hex(devfn >> 3) : `${hex(devfn >> 3)},${hex(devfn & 7)}`;
    const address = devfn << 8;
    const phys = (bar: AssignedBar) => ((bar.kind === 'mem64' ? OF_MEM64 : OF_MEM32) | (bar.prefetchable ? OF_PREFETCHABLE : 0) | address | (BAR0 + 4 * bar.index)) >>> 0;
    writer.beginNode(`pci${hex(vendor)},${hex(device)}@${unit}`)
      .u32('vendor-id', vendor).u32('device-id', device)
      .u32('revision-id', read(8, 1)).u32('class-code', read(8, 4) >>> 8)
      .u32('subsystem-vendor-id', read(SUBSYSTEM_VENDOR, 2)).u32('subsystem-id', read(SUBSYSTEM, 2))
      .u32('reg', address, 0, 0, 0, 0, ...bars.flatMap((bar) => [phys(bar), 0, 0, ...cells64(bar.size)]))
      .u32('assigned-addresses', ...bars.flatMap((bar) => [(phys(bar) | OF_NON_RELOCATABLE) >>> 0, ...cells64(bar.busAddress), ...cells64(bar.size)]))
      .u32('ibm,pci-config-space-type', 1);
    // of_irq_parse_pci (drivers/of/irq.c) reads the node's own interrupts first: <source, 1 = level>.
    if (intx !== undefined) writer.u32('interrupts', intx, 1).u32('interrupt-parent', this.#interruptParent!);
    writer.endNode();
  }
}

function alignUp(value: bigint, alignment: bigint): bigint {
  return (value + alignment - 1n) / alignment * alignment;
}

/** The PHBs of a machine, and the RTAS config calls that reach them by BUID. */
export class SpaprPciBridges {
  readonly #phbs = new Map<bigint, SpaprPhb>();

  /** Adds a PHB; the RTAS calls find it by its BUID. */
  add(phb: SpaprPhb): this {
    if (!(phb instanceof SpaprPhb)) throw invalidArgType('phb', 'a SpaprPhb', phb);
    this.#phbs.set(phb.buid, phb);
    return this;
  }

  /** The PHBs added. */
  get phbs(): readonly SpaprPhb[] {
    return [...this.#phbs.values()];
  }

  /** ibm,read-pci-config(config_addr, buid_hi, buid_lo, size) and ibm,write-pci-config(..., value). */
  rtasCalls(): Record<string, RtasHandler> {
    const phbOf = (hi: number, lo: number) => this.#phbs.get((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    return {
      'ibm,read-pci-config': ([address = 0, hi = 0, lo = 0, size = 0]) => phbOf(hi, lo)?.config(address, size) ?? [RtasStatus.HARDWARE_ERROR, 0],
      'ibm,write-pci-config': ([address = 0, hi = 0, lo = 0, size = 0, value = 0]) => phbOf(hi, lo)?.config(address, size, value) ?? [RtasStatus.HARDWARE_ERROR],
    };
  }
}
