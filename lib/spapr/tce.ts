// The TCE hypercalls answered in user space: for a LIOBN the kernel does not handle (no in-kernel
// table, no linkage, or a kernel without the call), the VMM keeps the guest's TCE table itself and,
// for a passed-through device, maps each TCE through the VFIO container (VFIO_IOMMU_MAP_DMA /
// UNMAP_DMA), as QEMU does when KVM cannot help (hw/ppc/spapr_iommu.c, hw/vfio/container.c). The
// checks follow the kernel's own handlers, so a guest sees the same answers either way
// (arch/powerpc/kvm/book3s_64_vio.c kvmppc_h_put_tce, kvmppc_h_put_tce_indirect, kvmppc_h_stuff_tce).
import type { GuestMemory } from '../guest-memory.js';
import { checkBigU64, checkInteger, invalidArgType, invalidArgValue } from '../validate.js';
import { HcallReturn, type HypercallAnswer } from '../vcpu.js';
import type { VfioContainer } from '../vfio-container.js';
import { H, type HcallTable } from './hcalls.js';

/** TCE permission bit (Linux arch/powerpc/include/asm/tce.h): the device may read the page. */
export const TCE_PCI_READ = 1n;
/** TCE permission bit: the device may write the page. */
export const TCE_PCI_WRITE = 2n;
const TCE_PERMISSIONS = TCE_PCI_READ | TCE_PCI_WRITE;
/** H_PUT_TCE_INDIRECT takes at most one 4 KiB page of TCEs (book3s_64_vio.c). */
const MAX_INDIRECT = 512;
const LIST_PAGE = 0x1000n;

/** A piece of guest RAM: where it sits in guest-physical space. */
export interface GuestRamSlot {
  /** Where the slot starts in guest-physical space. */
  guestPhysAddr: bigint;
  /** The memory behind it. */
  memory: GuestMemory;
}

/** Options of {@link UserTceTable}. */
export interface UserTceTableOptions {
  /** The LIOBN the guest passes in r4. */
  liobn: bigint;
  /** Size of the DMA window in bytes (a multiple of the IOMMU page size). */
  windowSize: bigint;
  /** IOMMU page shift (default 12: 4 KiB, what pseries Linux uses on the default window). */
  pageShift?: number;
  /** First bus address of the window (default 0). */
  busOffset?: bigint;
  /** Guest RAM: one GuestMemory at guest-physical 0, or the slots as the VM has them. */
  ram: GuestMemory | readonly GuestRamSlot[];
  /**
   * The VFIO container of the passed-through device behind this LIOBN: each TCE is mapped there.
   * Its DMA window must cover this one with the same page size (v2: memory registered too).
   * Without it the table is only kept (an emulated device reads it with translate()).
   */
  container?: VfioContainer;
}

/** What the IOMMU does with one bus address, from the guest's TCE. */
export interface TceTranslation {
  /** The guest-physical address the bus address maps to. */
  guestPhysAddr: bigint;
  /** The device may read it. */
  read: boolean;
  /** The device may write it. */
  write: boolean;
}

function ramSlots(ram: UserTceTableOptions['ram']): readonly GuestRamSlot[] {
  const slots = Array.isArray(ram) ? ram : [{ guestPhysAddr: 0n, memory: ram as GuestMemory }];
  if (slots.length === 0) throw invalidArgType('options.ram', 'a GuestMemory or guest RAM slots', ram);
  return slots;
}

/** What a UserTceTable did through its container. */
export interface TceStats {
  /** VFIO_IOMMU_MAP_DMA calls that succeeded. */
  maps: number;
  /** VFIO_IOMMU_UNMAP_DMA calls that succeeded. */
  unmaps: number;
  /** Mappings VFIO refused (the guest got H_HARDWARE). */
  failures: number;
  /** The last refusal. */
  lastError: Error | undefined;
}

/** One LIOBN's TCE table, kept in JavaScript. */
export class UserTceTable {
  /** The LIOBN. */
  readonly liobn: bigint;
  /** IOMMU page shift. */
  readonly pageShift: number;
  /** First bus address of the window. */
  readonly busOffset: bigint;
  /** Size of the window in bytes. */
  readonly windowSize: bigint;
  readonly #pageSize: bigint;
  readonly #entries: BigUint64Array;
  readonly #ram: readonly GuestRamSlot[];
  readonly #container: VfioContainer | undefined;
  /** VFIO mappings made and removed, and the last one that failed. */
  readonly stats: TceStats = { maps: 0, unmaps: 0, failures: 0, lastError: undefined };

  constructor(options: UserTceTableOptions) {
    this.liobn = checkBigU64('options.liobn', options?.liobn);
    this.pageShift = checkInteger('options.pageShift', options.pageShift ?? 12, 12, 34);
    this.busOffset = checkBigU64('options.busOffset', options.busOffset ?? 0n);
    this.windowSize = checkBigU64('options.windowSize', options.windowSize, 1n);
    this.#pageSize = 1n << BigInt(this.pageShift);
    if (this.windowSize % this.#pageSize !== 0n || this.busOffset % this.#pageSize !== 0n) {
      throw invalidArgValue('options.windowSize', this.windowSize, `and options.busOffset must be multiples of the IOMMU page size (${this.#pageSize})`);
    }
    this.#entries = new BigUint64Array(Number(this.windowSize >> BigInt(this.pageShift)));
    this.#ram = ramSlots(options.ram);
    this.#container = options.container;
  }

  /** The TCE at `index` (0 when never written). */
  read(index: number): bigint {
    return this.#entries[checkInteger('index', index, 0, this.#entries.length - 1)]!;
  }

  /** Every TCE, as a copy. */
  entries(): BigUint64Array {
    return this.#entries.slice();
  }

  /** Where a DMA to `ioba` goes, or undefined when no TCE maps it. */
  translate(ioba: bigint): TceTranslation | undefined {
    const index = this.#indexOf(ioba, 1n, false);
    const tce = index === undefined ? 0n : this.#entries[index]!;
    if ((tce & TCE_PERMISSIONS) === 0n) return undefined;
    return { guestPhysAddr: (tce & ~(this.#pageSize - 1n)) + (ioba & (this.#pageSize - 1n)), read: (tce & TCE_PCI_READ) !== 0n, write: (tce & TCE_PCI_WRITE) !== 0n };
  }

  /** H_PUT_TCE(liobn, ioba, tce). */
  put(ioba: bigint, tce: bigint): bigint {
    const index = this.#indexOf(ioba, 1n, true);
    if (index === undefined || !this.#validTce(tce)) return HcallReturn.H_PARAMETER;
    return this.#store(index, tce);
  }

  /** H_STUFF_TCE(liobn, ioba, tce, npages): one value into npages entries. */
  stuff(ioba: bigint, tce: bigint, npages: bigint): bigint {
    const first = this.#indexOf(ioba, npages, true);
    if (first === undefined || !this.#validTce(tce)) return HcallReturn.H_PARAMETER;
    for (let i = 0; i < Number(npages); i++) {
      const ret = this.#store(first + i, tce);
      if (ret !== HcallReturn.H_SUCCESS) return ret;
    }
    return HcallReturn.H_SUCCESS;
  }

  /** H_PUT_TCE_INDIRECT(liobn, ioba, list, npages): npages TCEs, big-endian, from a 4 KiB-aligned page of guest memory. */
  putIndirect(ioba: bigint, list: bigint, npages: bigint): bigint {
    if (npages > BigInt(MAX_INDIRECT) || (list & (LIST_PAGE - 1n)) !== 0n) return HcallReturn.H_PARAMETER;
    const first = this.#indexOf(ioba, npages, true);
    const view = this.#view(list, npages * 8n);
    if (first === undefined || view === undefined) return HcallReturn.H_PARAMETER;
    const tces = Array.from({ length: Number(npages) }, (_, i) => view.dataView.getBigUint64(view.offset + i * 8, false));
    if (!tces.every((tce) => this.#validTce(tce))) return HcallReturn.H_PARAMETER;
    for (const [i, tce] of tces.entries()) {
      const ret = this.#store(first + i, tce);
      if (ret !== HcallReturn.H_SUCCESS) return ret;
    }
    return HcallReturn.H_SUCCESS;
  }

  /** H_GET_TCE(liobn, ioba) -> r4 = the TCE. */
  get(ioba: bigint): HypercallAnswer {
    const index = this.#indexOf(ioba, 1n, true);
    return index === undefined ? { ret: HcallReturn.H_PARAMETER } : { ret: HcallReturn.H_SUCCESS, args: [this.#entries[index]!] };
  }

  /** Clears every TCE (unmapping what the container maps), as a machine reset does. */
  clear(): void {
    this.#entries.forEach((tce, index) => {
      if (tce !== 0n) this.#store(index, 0n);
    });
  }

  /** The entry index of `ioba` when its `npages` entries lie in the window (and, if `aligned`, it is page-aligned). */
  #indexOf(ioba: bigint, npages: bigint, aligned: boolean): number | undefined {
    if (aligned && (ioba & (this.#pageSize - 1n)) !== 0n) return undefined;
    if (ioba < this.busOffset) return undefined;
    const index = (ioba - this.busOffset) >> BigInt(this.pageShift);
    return index + (npages > 1n ? npages : 1n) <= BigInt(this.#entries.length) ? Number(index) : undefined; // npages 0: a valid no-op
  }

  /** A TCE is valid when it clears the entry, or points at a page-aligned page of guest RAM. */
  #validTce(tce: bigint): boolean {
    if ((tce & TCE_PERMISSIONS) === 0n) return true;
    const address = tce & ~TCE_PERMISSIONS;
    return (address & (this.#pageSize - 1n)) === 0n && this.#slotOf(address, this.#pageSize) !== undefined;
  }

  #slotOf(address: bigint, length: bigint): GuestRamSlot | undefined {
    return this.#ram.find((slot) => address >= slot.guestPhysAddr && address + length <= slot.guestPhysAddr + slot.memory.size);
  }

  #view(address: bigint, length: bigint): { dataView: DataView; offset: number } | undefined {
    const slot = this.#slotOf(address, length);
    return slot ? { dataView: new DataView(slot.memory.buffer), offset: Number(address - slot.guestPhysAddr) } : undefined;
  }

  /** Writes one entry, moving the container's mapping with it: H_SUCCESS, or H_HARDWARE when VFIO refused. */
  #store(index: number, tce: bigint): bigint {
    const old = this.#entries[index]!;
    this.#entries[index] = tce;
    if (!this.#container) return HcallReturn.H_SUCCESS;
    const iova = this.busOffset + (BigInt(index) << BigInt(this.pageShift));
    try {
      if ((old & TCE_PERMISSIONS) !== 0n) {
        this.#container.unmapDma({ iova, size: this.#pageSize });
        this.stats.unmaps += 1;
      }
      if ((tce & TCE_PERMISSIONS) !== 0n) {
        const address = tce & ~TCE_PERMISSIONS;
        const slot = this.#slotOf(address, this.#pageSize)!;
        this.#container.mapDma({
          memory: slot.memory, offset: address - slot.guestPhysAddr, iova, size: this.#pageSize,
          read: (tce & TCE_PCI_READ) !== 0n, write: (tce & TCE_PCI_WRITE) !== 0n,
        });
        this.stats.maps += 1;
      }
      return HcallReturn.H_SUCCESS;
    } catch (error) {
      this.#entries[index] = 0n;
      this.stats.failures += 1;
      this.stats.lastError = error as Error;
      return HcallReturn.H_HARDWARE;
    }
  }
}

/** Options of {@link TceHypercalls.register}. */
export interface TceRegisterOptions {
  /**
   * Answer H_PUT_TCE_INDIRECT too (default true). Advertise "hcall-multi-tce" in the device tree's
   * ibm,hypertas-functions only where it is answered, here or in the kernel.
   */
  indirect?: boolean;
}

/** The TCE hypercalls of a VMM's user-space LIOBNs, by LIOBN; unknown LIOBNs get H_PARAMETER (as in the kernel). */
export class TceHypercalls {
  readonly #tables = new Map<bigint, UserTceTable>();

  constructor(tables: readonly UserTceTable[] = []) {
    for (const table of tables) this.add(table);
  }

  /** Adds a LIOBN's table; a LIOBN has one. */
  add(table: UserTceTable): this {
    if (!(table instanceof UserTceTable)) throw invalidArgType('table', 'a UserTceTable', table);
    if (this.#tables.has(table.liobn)) throw Object.assign(new Error(`LIOBN 0x${table.liobn.toString(16)} already has a table`), { code: 'ERR_TCE_LIOBN_TAKEN' });
    this.#tables.set(table.liobn, table);
    return this;
  }

  /** The table of `liobn`, if this VMM keeps it. */
  table(liobn: bigint): UserTceTable | undefined {
    return this.#tables.get(liobn);
  }

  /** Answers H_PUT_TCE, H_GET_TCE, H_STUFF_TCE and (unless told not to) H_PUT_TCE_INDIRECT in `hcalls`. */
  register(hcalls: HcallTable, options: TceRegisterOptions = {}): void {
    const withTable = (answer: (table: UserTceTable, args: readonly bigint[]) => HypercallAnswer) =>
      (args: readonly bigint[]): HypercallAnswer => {
        const table = this.#tables.get(args[0] ?? 0n);
        return table ? answer(table, args) : { ret: HcallReturn.H_PARAMETER };
      };
    hcalls.on(H.H_PUT_TCE, withTable((table, [, ioba = 0n, tce = 0n]) => ({ ret: table.put(ioba, tce) })));
    hcalls.on(H.H_GET_TCE, withTable((table, [, ioba = 0n]) => table.get(ioba)));
    hcalls.on(H.H_STUFF_TCE, withTable((table, [, ioba = 0n, tce = 0n, npages = 0n]) => ({ ret: table.stuff(ioba, tce, npages) })));
    if (options.indirect ?? true) {
      hcalls.on(H.H_PUT_TCE_INDIRECT, withTable((table, [, ioba = 0n, list = 0n, npages = 0n]) => ({ ret: table.putIndirect(ioba, list, npages) })));
    }
  }
}
