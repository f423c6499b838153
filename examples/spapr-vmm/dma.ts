// The two ways a passed-through function's DMA window can be kept. 'kernel': the IOMMU group is
// linked to the LIOBN (attachIommuGroup), so the host kernel writes the TCEs for the guest's
// H_PUT_TCE / H_STUFF_TCE and none reaches this VMM. 'user': no in-kernel table for the LIOBN, so
// every TCE hypercall exits here and lib/spapr's UserTceTable keeps the table, mapping each TCE
// through the group's VFIO container (VFIO_IOMMU_MAP_DMA / UNMAP_DMA), as QEMU does when KVM
// cannot help (hw/ppc/spapr_iommu.c).
import { type GroupDmaWindow, type GuestMemory, type Linkage, type VfioGroup, type Vm, attachIommuGroup, prepareDmaWindow } from 'kvm-vfio-spapr';
import { TCE_PCI_READ, TCE_PCI_WRITE, type TceStats, UserTceTable } from 'kvm-vfio-spapr/spapr';

/** Where the guest's TCE hypercalls for a passed-through function are answered. */
export type TcePath = 'kernel' | 'user';

export interface DmaWindowOptions {
  vm: Vm;
  memory: GuestMemory;
  group: number;
  liobn: bigint;
  windowSize: bigint;
}

/** What the user path's table did: the VFIO mappings made and removed, and the entries mapped now. */
export interface UserTceReport extends TceStats {
  liveEntries: number;
}

/** A function's DMA window: its group (to open the device from) and, on the user path, the table. */
export interface PassthroughDma {
  readonly path: TcePath;
  readonly group: VfioGroup;
  /** The table this VMM keeps ('user' only). */
  readonly table: UserTceTable | undefined;
  /** What the table did through the container ('user' only). */
  stats(): UserTceReport | undefined;
  close(): void;
}

class KernelTceDma implements PassthroughDma {
  readonly path = 'kernel';
  readonly table = undefined;
  readonly #linkage: Linkage;

  constructor(options: DmaWindowOptions) {
    this.#linkage = attachIommuGroup(options.vm, { group: options.group, liobn: options.liobn, windowSize: options.windowSize, memory: options.memory });
  }

  get group(): VfioGroup {
    return this.#linkage.group;
  }

  stats(): undefined {
    return undefined;
  }

  close(): void {
    this.#linkage.close();
  }
}

class UserTceDma implements PassthroughDma {
  readonly path = 'user';
  readonly table: UserTceTable;
  readonly #dma: GroupDmaWindow;

  constructor(options: DmaWindowOptions) {
    // A v2 container maps only registered memory (tce_iommu_build_v2). busOffset 0: the pending
    // default window gives way, so ours starts at bus address 0 as the guest's LIOBN window does.
    const dma = prepareDmaWindow({ group: options.group, windowSize: options.windowSize, pageShift: 12, busOffset: 0n, memory: options.memory });
    try {
      this.table = new UserTceTable({ liobn: options.liobn, windowSize: options.windowSize, ram: options.memory, container: dma.container });
    } catch (error) {
      dma.close();
      throw error;
    }
    this.#dma = dma;
  }

  get group(): VfioGroup {
    return this.#dma.group;
  }

  stats(): UserTceReport {
    const liveEntries = this.table.entries().reduce((live, tce) => live + ((tce & (TCE_PCI_READ | TCE_PCI_WRITE)) !== 0n ? 1 : 0), 0);
    return { ...this.table.stats, liveEntries };
  }

  /** Removing the window clears its mappings; then the memory, the container and the group go. */
  close(): void {
    this.#dma.close();
  }
}

/** Opens the function's DMA window on `path`. */
export function openPassthroughDma(path: TcePath, options: DmaWindowOptions): PassthroughDma {
  return path === 'user' ? new UserTceDma(options) : new KernelTceDma(options);
}
