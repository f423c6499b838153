// An in-kernel sPAPR TCE table (KVM_CREATE_SPAPR_TCE_64 / KVM_CREATE_SPAPR_TCE on the VM fd).
// While it exists, the kernel answers the guest's H_PUT_TCE / H_GET_TCE (and, when enabled,
// H_STUFF_TCE) for its LIOBN itself. Kernel: arch/powerpc/kvm/book3s_64_vio.c.
import { usageError, syscallError } from './errors.js';
import { CONSTRUCTING, FdObject, requireConstructing } from './handle.js';
import { MAX_MAPPING } from './guest-memory.js';
import { native, type MappedRegion } from './native.js';
import { checkBigU64, invalidArgType, outOfRange } from './validate.js';
import type { Vm } from './vm.js';

/** Where and how big a table's window is. */
export interface SpaprTceTableOptions {
  /** The logical IO bus number the guest passes to H_PUT_TCE. */
  liobn: bigint;
  /** IOMMU page shift: 12 (4 KiB) to 34; the kernel refuses others. Default 12. */
  pageShift?: number;
  /** First IOMMU page of the window (bus offset >> pageShift). Default 0. */
  offset?: bigint;
  /** Number of IOMMU pages (TCEs) in the window. */
  size: bigint;
}

/** An index in [0, size): a BigInt, or a Number that is a safe integer. */
function checkIndex(name: string, index: unknown, size: bigint): bigint {
  if (typeof index !== 'bigint' && typeof index !== 'number') throw invalidArgType(name, 'of type bigint or number', index);
  if (typeof index === 'number' && !Number.isSafeInteger(index)) throw outOfRange(name, 'a safe integer', index);
  const position = BigInt(index);
  if (position < 0n || position >= size) throw outOfRange(name, `>= 0 && < ${size} (the table's size)`, index);
  return position;
}

/**
 * An in-kernel TCE table. Its TCEs (u64, host byte order) are read through a read-only mmap of
 * exactly the table's page-rounded size, created on first read.
 *
 * @example
 * using table = vm.createSpaprTceTable({ liobn: 0x80000000n, pageShift: 16, size: 1n << 14n });
 * const tce = table.readIoba(0x10000n); // what the guest's H_PUT_TCE wrote for that bus address
 */
export class SpaprTceTable extends FdObject {
  /** The VM the table belongs to (kept alive by the table). */
  readonly vm: Vm;
  /** The logical IO bus number the guest passes to H_PUT_TCE. */
  readonly liobn: bigint;
  /** IOMMU page shift of the table's entries (12 = 4 KiB ... 34). */
  readonly pageShift: number;
  /** First IOMMU page of the window. */
  readonly offset: bigint;
  /** Number of TCEs. */
  readonly size: bigint;
  /** True when made by the legacy KVM_CREATE_SPAPR_TCE (kernels without KVM_CAP_SPAPR_TCE_64). */
  readonly legacy: boolean;
  #mapping: MappedRegion | undefined;
  #entries: BigUint64Array | undefined;

  private constructor(token: typeof CONSTRUCTING, fd: number, vm: Vm, options: Required<SpaprTceTableOptions>, legacy: boolean) {
    super(token, fd, `spapr tce table (liobn 0x${options.liobn.toString(16)})`);
    this.vm = vm;
    this.liobn = options.liobn;
    this.pageShift = options.pageShift;
    this.offset = options.offset;
    this.size = options.size;
    this.legacy = legacy;
  }

  /** @internal Used by Vm.createSpaprTceTable. */
  static fromOwnedFd(token: typeof CONSTRUCTING, fd: number, vm: Vm, options: Required<SpaprTceTableOptions>, legacy: boolean): SpaprTceTable {
    requireConstructing(token, 'SpaprTceTable');
    return new SpaprTceTable(token, fd, vm, options, legacy);
  }

  /** The window's first bus address in bytes (offset << pageShift). */
  get busOffset(): bigint {
    return this.offset << BigInt(this.pageShift);
  }

  /** The window's size in bytes (size << pageShift). */
  get windowSize(): bigint {
    return this.size << BigInt(this.pageShift);
  }

  /** The TCE at `index` (0-based within the window: (ioba >> pageShift) - offset). */
  read(index: bigint | number): bigint {
    // The hot path (a VMM polling TCEs): a Number index into a table already mapped, no BigInt
    // round trip. #entries exists only while the table is open (beforeClose drops it).
    const entries = this.#entries;
    if (entries !== undefined && typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < entries.length) {
      return entries[index]!;
    }
    this.fdFor('read');
    const position = checkIndex('index', index, this.size);
    return this.view('read')[Number(position)]!;
  }

  /** A copy of every TCE in the table. */
  entries(): BigUint64Array {
    return this.view('entries').slice();
  }

  /** The TCE for bus address `ioba`, or undefined when it is outside this table's window. */
  readIoba(ioba: bigint): bigint | undefined {
    checkBigU64('ioba', ioba);
    const index = (ioba >> BigInt(this.pageShift)) - this.offset;
    return index >= 0n && index < this.size ? this.read(index) : undefined;
  }


  protected override beforeClose(): void {
    const mapping = this.#mapping;
    this.#mapping = undefined;
    this.#entries = undefined;
    if (mapping) native.unmapMapping(mapping.handle, mapping.buffer);
  }

  private view(method: string): BigUint64Array {
    const fd = this.fdFor(method);
    if (this.#entries) return this.#entries;
    if (this.size * 8n > MAX_MAPPING) throw usageError('ERR_KVM_MAPPING_TOO_LARGE', this.target, `a table of ${this.size} TCEs is too large to map into JavaScript (${MAX_MAPPING} bytes at most)`);
    const mapping = native.mapSpaprTceTable(fd, this.size);
    if (typeof mapping === 'number') {
      throw syscallError(mapping, { syscall: 'mmap', request: 'mmap', qualifiers: ['spapr tce table'], target: this.target, args: `${this.size} TCEs` });
    }
    this.#mapping = mapping;
    this.#entries = new BigUint64Array(mapping.buffer, 0, Number(this.size));
    return this.#entries;
  }
}
