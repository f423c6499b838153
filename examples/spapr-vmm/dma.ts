// The two ways a passed-through function's DMA window can be kept. 'kernel': the IOMMU group is
// linked to the LIOBN (attachIommuGroup), so the host kernel writes the TCEs for the guest's
// H_PUT_TCE / H_STUFF_TCE and none reaches this VMM. 'user': no in-kernel table for the LIOBN, so
// every TCE hypercall exits here and lib/spapr's UserTceTable keeps the table, mapping each TCE
// through the group's VFIO container (VFIO_IOMMU_MAP_DMA / UNMAP_DMA), as QEMU does when KVM
// cannot help (hw/ppc/spapr_iommu.c).
import { type GuestMemory, IommuType, type Linkage, VfioContainer, VfioGroup, type Vm, attachIommuGroup } from 'kvm-vfio-spapr';
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
  readonly group: VfioGroup;
  readonly table: UserTceTable;
  readonly #container: VfioContainer;

  constructor(options: DmaWindowOptions) {
    this.#container = VfioContainer.open();
    try {
      this.group = VfioGroup.open(options.group);
      this.group.setContainer(this.#container);
      this.#container.setIommu(IommuType.SPAPR_TCE_V2);
      this.#container.registerMemory(options.memory); // v2 maps only registered memory (tce_iommu_build_v2)
      this.#container.removeWindow(0n); // the default window is pending until used: ours takes bus address 0
      this.#container.createWindow({ pageShift: 12, windowSize: options.windowSize });
      this.table = new UserTceTable({ liobn: options.liobn, windowSize: options.windowSize, ram: options.memory, container: this.#container });
    } catch (error) {
      this.close();
      throw error;
    }
  }

  stats(): UserTceReport {
    const liveEntries = this.table.entries().reduce((live, tce) => live + ((tce & (TCE_PCI_READ | TCE_PCI_WRITE)) !== 0n ? 1 : 0), 0);
    return { ...this.table.stats, liveEntries };
  }

  /** The group first (it leaves the container), then the container: its mappings go with it. */
  close(): void {
    this.group?.close();
    this.#container.close();
  }
}

/** Opens the function's DMA window on `path`. */
export function openPassthroughDma(path: TcePath, options: DmaWindowOptions): PassthroughDma {
  return path === 'user' ? new UserTceDma(options) : new KernelTceDma(options);
}
