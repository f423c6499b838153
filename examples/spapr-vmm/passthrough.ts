// One PCI function passed through to the guest: its IOMMU group behind the LIOBN of a PHB of its
// own (linked, so the kernel handles the guest's TCE hypercalls, or kept in JavaScript: dma.ts), its BARs as memory slots over the VFIO region
// mmaps (the guest reaches the registers without exits), and its INTx line routed to the guest's
// interrupt controller: with the kernel's XICS, KVM_IRQFD with a resample eventfd (the guest's EOI
// unmasks the line at VFIO without user space); with the XICS in JavaScript, an eventfd watched on
// the event loop raises the source and the EOI unmasks it.
import { EventFd, PciIrq, PciRegion, RegionFlag, type RegionMapping, type VfioDevice, type Vm, type GuestMemory } from 'kvm-vfio-spapr';
import { type SpaprPciBridges, SpaprPhb, type UserTceTable, type Xics, vfioPciFunction } from 'kvm-vfio-spapr/spapr';
import { readlinkSync } from 'node:fs';
import { type PassthroughDma, type TcePath, type UserTceReport, openPassthroughDma } from './dma.js';
import { MachineConfigError } from './machine-config-error.js';

/** LIOBNs of the PHBs' DMA windows: PHB n gets 0x80000000 + n. */
const PHB_LIOBN_BASE = 0x8000_0000n;
/** Each PHB's DMA window: 1 GiB from bus address 0, as QEMU's default 32-bit window. */
const PHB_DMA_WINDOW = 1n << 30n;
// With TCEs kept in JavaScript, 64 MiB: the guest clears a new window with one H_PUT_TCE per entry
// (tce_free_pSeriesLP, arch/powerpc/platforms/pseries/iommu.c: no H_STUFF_TCE without hcall-multi-tce),
// each an exit here; 1 GiB would be 262,144 of them before the guest's boot goes on, 64 MiB is 16,384.
const USER_TCE_DMA_WINDOW = 64n << 20n;
/** Memory slots of BARs start here (slot 0 is RAM). */
const BAR_SLOT_BASE = 16;
/** XICS sources of INTx lines: PHB n's function gets the first source + 0x100 + n. */
const INTX_SOURCE_OFFSET = 0x100;

/** What the report says about one passed-through function. */
export interface PassthroughReport {
  address: string;
  /** BARs mapped into the guest as memory slots: [index, guest-physical address, size]. */
  bars: [number, bigint, bigint][];
  /** 'kernel' (irqfd + resample), 'user' (eventfd -> the XICS in JavaScript), or 'none' (no INTx pin). */
  intx: 'kernel' | 'user' | 'none';
  /** INTx assertions that reached the JavaScript XICS (0 on the kernel path: they never leave the kernel). */
  intxDelivered: number;
  /** Where the guest's TCE hypercalls were answered: 'kernel' (the LIOBN is linked) or 'user' (this VMM's table). */
  tce: TcePath;
  /** On the user path: the VFIO mappings the table made and removed, and the entries mapped at the end. */
  tceStats?: UserTceReport;
}

/** The IOMMU group of a PCI function, from sysfs. */
function iommuGroupOf(address: string): number {
  try {
    return Number(readlinkSync(`/sys/bus/pci/devices/${address}/iommu_group`).split('/').pop());
  } catch {
    throw new MachineConfigError(`--vfio ${address}: no such PCI function with an IOMMU group (/sys/bus/pci/devices/${address}/iommu_group)`);
  }
}

/** Where the guest's interrupt controller lives, as the passthrough needs it. */
export type InterruptController =
  | { kind: 'user'; xics: Xics }
  | { kind: 'kernel'; firstIrq: number; defineLevelSource(irq: number): void };

export interface PassthroughOptions {
  vm: Vm;
  memory: GuestMemory;
  address: string;
  /** The PHB's index (1, 2, ...). */
  index: number;
  pci: SpaprPciBridges;
  interrupts: InterruptController;
  xicsPhandle: number;
  /** Where the guest's TCE hypercalls are answered (default 'kernel'). */
  tce?: TcePath;
}

export class PassedThroughFunction implements Disposable {
  readonly #address: string;
  readonly #dma: PassthroughDma;
  readonly #device: VfioDevice;
  readonly #bars: RegionMapping[] = [];
  readonly #eventFds: EventFd[] = [];
  readonly #report: PassthroughReport;

  constructor(options: PassthroughOptions) {
    const { vm, memory, address, index } = options;
    this.#address = address;
    const liobn = PHB_LIOBN_BASE + BigInt(index);
    const tce = options.tce ?? 'kernel';
    const windowSize = tce === 'user' ? USER_TCE_DMA_WINDOW : PHB_DMA_WINDOW;
    this.#dma = openPassthroughDma(tce, { vm, memory, group: iommuGroupOf(address), liobn, windowSize });
    try {
      this.#device = this.#dma.group.getDeviceFd(address);
      const phb = new SpaprPhb({ index, liobn, dmaWindowSize: windowSize, interruptParent: options.xicsPhandle });
      const pin = this.#device.readConfig(0x3d, 1) !== 0 && this.#device.irqInfo(PciIrq.INTX).count > 0;
      const intx = pin ? this.#intxSource(options.interrupts, index) : undefined;
      const assigned = phb.attach(0, vfioPciFunction(this.#device), intx === undefined ? {} : { intx });
      this.#report = { address, bars: [], intx: pin ? options.interrupts.kind : 'none', intxDelivered: 0, tce: this.#dma.path };
      assigned.forEach((bar, i) => this.#mapBar(vm, bar.index, bar.guestPhysAddr, BAR_SLOT_BASE + (index - 1) * 6 + i));
      if (intx !== undefined) this.#wireIntx(vm, options.interrupts, intx);
      options.pci.add(phb);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Whether this function's interrupts need the event loop (the XICS in JavaScript). */
  get needsEventLoop(): boolean {
    return this.#report.intx === 'user';
  }

  /** The TCE table this VMM keeps for the function's LIOBN (the user path only). */
  get tceTable(): UserTceTable | undefined {
    return this.#dma.table;
  }

  report(): PassthroughReport {
    const tceStats = this.#dma.stats();
    return { ...this.#report, bars: [...this.#report.bars], ...(tceStats ? { tceStats } : {}) };
  }

  #intxSource(interrupts: InterruptController, index: number): number {
    const first = interrupts.kind === 'user' ? interrupts.xics.firstIrq : interrupts.firstIrq;
    return first + INTX_SOURCE_OFFSET + index;
  }

  #mapBar(vm: Vm, bar: number, guestPhysAddr: bigint, slot: number): void {
    const region = PciRegion.BAR0 + bar;
    if ((this.#device.regionInfo(region).flags & RegionFlag.MMAP) === 0) {
      throw new MachineConfigError(`--vfio ${this.#address}: BAR ${bar} cannot be mmapped, and this VMM traps no MMIO`);
    }
    const mapping = this.#device.mapRegion(region);
    this.#bars.push(mapping);
    vm.setMemoryRegion({ slot, guestPhysAddr, memory: mapping });
    this.#report.bars.push([bar, guestPhysAddr, mapping.size]);
  }

  #wireIntx(vm: Vm, interrupts: InterruptController, irq: number): void {
    const trigger = this.#newEventFd();
    if (interrupts.kind === 'kernel') {
      const unmask = this.#newEventFd();
      interrupts.defineLevelSource(irq);
      vm.irqfd({ eventFd: trigger, gsi: irq, resample: unmask });
      this.#device.setIrqEventFds(PciIrq.INTX, [trigger]);
      this.#device.setIrqUnmaskEventFd(PciIrq.INTX, unmask);
      return;
    }
    const { xics } = interrupts;
    xics.setLsi(irq, true);
    xics.onEoi(irq, () => {
      xics.lower(irq);
      this.#device.unmaskIrq(PciIrq.INTX);
    });
    trigger.watch(() => {
      this.#report.intxDelivered += 1;
      xics.raise(irq);
    });
    this.#device.setIrqEventFds(PciIrq.INTX, [trigger]);
  }

  #newEventFd(): EventFd {
    const eventFd = EventFd.create();
    this.#eventFds.push(eventFd);
    return eventFd;
  }

  /** Closes the device (its interrupts go with it), the eventfds, the BARs (their slots first) and the DMA window. Idempotent. */
  close(): void {
    this.#device?.close(); // closing the device disables its interrupts (vfio_pci_core_close_device)
    for (const eventFd of this.#eventFds.splice(0)) eventFd.close();
    for (const bar of this.#bars.splice(0)) bar.close();
    this.#dma?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
