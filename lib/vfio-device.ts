// A VFIO device fd: regions (PCI config space, BARs), BAR mmaps, interrupts, reset.
// Kernel: drivers/vfio/pci/vfio_pci_core.c, vfio_pci_intrs.c.
import { checkIoctl, syscallError, usageError } from './errors.js';
import { EventFd } from './event-fd.js';
import { CONSTRUCTING, FdObject, fdOf, requireConstructing } from './handle.js';
import { MAX_MAPPING, MappedMemory } from './mapped-memory.js';
import { native, type MappedRegion } from './native.js';
import { checkBigU64, checkInstance, checkInteger, invalidArgType, invalidArgValue, outOfRange } from './validate.js';
import type { VfioGroup } from './vfio-group.js';

/** VFIO_PCI_*_REGION_INDEX: BAR0..BAR5 are 0..5, the ROM 6, PCI config space 7. */
export const PciRegion = {
  /** BAR 0. */
  BAR0: 0,
  /** BAR 1. */
  BAR1: 1,
  /** BAR 2. */
  BAR2: 2,
  /** BAR 3. */
  BAR3: 3,
  /** BAR 4. */
  BAR4: 4,
  /** BAR 5. */
  BAR5: 5,
  /** The expansion ROM. */
  ROM: 6,
  /** PCI config space. */
  CONFIG: 7,
  /** Legacy VGA ranges (VGA devices only). */
  VGA: 8,
} as const;

/** VFIO_REGION_INFO_FLAG_* */
export const RegionFlag = {
  /** The region can be read. */
  READ: 1,
  /** The region can be written. */
  WRITE: 2,
  /** The region can be mmapped ({@link VfioDevice.mapRegion}). */
  MMAP: 4,
  /** The region info has a capability chain. */
  CAPS: 8,
} as const;

/** VFIO's PCI interrupt indexes (VFIO_PCI_*_IRQ_INDEX, include/uapi/linux/vfio.h). */
export const PciIrq = {
  /** The legacy level-triggered line (INTA#..INTD#). */
  INTX: 0,
  /** Message-signalled interrupts. */
  MSI: 1,
  /** MSI-X. */
  MSIX: 2,
  /** AER error notification. */
  ERR: 3,
  /** The host asks for the device back (unbind). */
  REQ: 4,
} as const;

/** VFIO_IRQ_INFO_* bits of {@link VfioIrqInfo.flags}. */
export const IrqFlag = {
  /** Vectors of this index can signal eventfds. */
  EVENTFD: 1,
  /** They can be masked and unmasked (INTx). */
  MASKABLE: 2,
  /** The kernel masks the line when it fires; the VMM unmasks it after the guest's EOI (INTx). */
  AUTOMASKED: 4,
  /** The vector count cannot change once enabled (MSI-X before 6.5 kernels). */
  NORESIZE: 8,
} as const;

/** What VFIO_DEVICE_GET_IRQ_INFO reports for one interrupt index. */
export interface VfioIrqInfo {
  /** {@link IrqFlag} bits. */
  flags: number;
  /** How many vectors the index has (INTx: 1 when the function has a pin, else 0). */
  count: number;
}

// The small numbers native/vfio_device.cc maps to VFIO_IRQ_SET_ACTION_*.
const IrqAction = { MASK: 0, UNMASK: 1, TRIGGER: 2 } as const;

/** What VFIO_DEVICE_GET_REGION_INFO reports for one region. */
export interface VfioRegionInfo {
  /** {@link RegionFlag} bits. */
  flags: number;
  /** Region size in bytes. */
  size: bigint;
  /** Where the region starts in the device fd's file offsets (kernel-chosen). */
  offset: bigint;
}

/**
 * An mmap of a device region (a BAR), read and written through `buffer`; `vm.setMemoryRegion`
 * takes it as a memslot, so the guest reaches the BAR without exits.
 */
export class RegionMapping extends MappedMemory {
  /** @internal Made by VfioDevice.mapRegion. */
  constructor(token: typeof CONSTRUCTING, region: MappedRegion, size: bigint) {
    requireConstructing(token, 'RegionMapping');
    super(region, size, 'region mapping');
  }
}

const WIDTHS = new Set([1, 2, 4, 8]);

/** The arguments of a region access, checked before any syscall. */
function checkAccess(region: unknown, offset: unknown, width: unknown): void {
  checkInteger('region', region, 0, 0xffff_ffff);
  checkBigU64('offset', offset);
  checkInteger('width', width, 1, 8);
  if (!WIDTHS.has(width as number)) throw invalidArgValue('width', width, 'must be 1, 2, 4 or 8');
}

/**
 * A device of a VFIO group, e.g. a passed-through PCI function.
 *
 * @example
 * using device = group.getDeviceFd('0002:00:00.0');
 * const vendor = device.readConfig(0, 2);
 */
export class VfioDevice extends FdObject {
  /** The group the device was opened from (kept alive by the device). */
  readonly group: VfioGroup;
  /** The sysfs name, e.g. '0002:00:00.0'. */
  readonly name: string;
  readonly #regions = new Map<number, VfioRegionInfo>();

  private constructor(token: typeof CONSTRUCTING, fd: number, group: VfioGroup, name: string) {
    super(token, fd, `vfio device ${name}`);
    this.group = group;
    this.name = name;
  }

  /** @internal Used by VfioGroup.getDeviceFd. */
  static fromOwnedFd(token: typeof CONSTRUCTING, fd: number, group: VfioGroup, name: string): VfioDevice {
    requireConstructing(token, 'VfioDevice');
    return new VfioDevice(token, fd, group, name);
  }

  /** VFIO_DEVICE_GET_INFO. */
  info(): {
    /** VFIO_DEVICE_FLAGS_* (e.g. PCI = 2, RESET = 1). */
    flags: number;
    /** How many regions the device has ({@link PciRegion} indexes for PCI). */
    numRegions: number;
    /** How many interrupt index types it has. */
    numIrqs: number;
  } {
    const result = native.vfioDeviceGetInfo(this.fdFor('info'));
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'VFIO_DEVICE_GET_INFO', target: this.target });
    return result;
  }

  /** VFIO_DEVICE_GET_REGION_INFO (cached: the kernel's answer does not change). */
  regionInfo(index: number): VfioRegionInfo {
    const fd = this.fdFor('regionInfo');
    checkInteger('index', index, 0, 0xffff_ffff);
    const cached = this.#regions.get(index);
    if (cached) return cached;
    const result = native.vfioDeviceGetRegionInfo(fd, index);
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'VFIO_DEVICE_GET_REGION_INFO', target: this.target, args: `index ${index}` });
    this.#regions.set(index, result);
    return result;
  }

  /** Reads `width` bytes (1, 2, 4 or 8) at `offset` in a region, as a host-order value. */
  read(region: number, offset: bigint, width: number): bigint {
    const fd = this.fdFor('read');
    const position = this.position(region, offset, width);
    const result = native.vfioDeviceReadRegion(fd, position, width);
    if (typeof result === 'number') throw syscallError(result, { syscall: 'pread', request: 'pread', target: this.target, args: `region ${region}, offset 0x${offset.toString(16)}, ${width} bytes` });
    return result;
  }

  /** Writes `width` bytes (1, 2, 4 or 8) at `offset` in a region. */
  write(region: number, offset: bigint, width: number, value: bigint): void {
    const fd = this.fdFor('write');
    checkAccess(region, offset, width);
    checkBigU64('value', value, 0n, (1n << BigInt(8 * width)) - 1n);
    const position = this.position(region, offset, width);
    const result = native.vfioDeviceWriteRegion(fd, position, width, value);
    if (result < 0) throw syscallError(result, { syscall: 'pwrite', request: 'pwrite', target: this.target, args: `region ${region}, offset 0x${offset.toString(16)}, ${width} bytes` });
  }

  /** PCI config space read (little-endian, as PCI defines it). */
  readConfig(offset: number, width: number): number {
    checkInteger('offset', offset, 0, 0xfff);
    return Number(this.read(PciRegion.CONFIG, BigInt(offset), width));
  }

  /** PCI config space write. */
  writeConfig(offset: number, width: number, value: number): void {
    checkInteger('offset', offset, 0, 0xfff);
    checkInteger('value', value, 0, 0xffff_ffff);
    this.write(PciRegion.CONFIG, BigInt(offset), width, BigInt(value));
  }

  /** mmaps a whole region (a BAR that allows mmap). */
  mapRegion(index: number): RegionMapping {
    const fd = this.fdFor('mapRegion');
    const info = this.regionInfo(index);
    if ((info.flags & RegionFlag.MMAP) === 0) throw usageError('ERR_VFIO_REGION_NOT_MMAPPABLE', this.target, `region ${index} cannot be mmapped (flags 0x${info.flags.toString(16)})`);
    if (info.size > MAX_MAPPING) throw usageError('ERR_KVM_MAPPING_TOO_LARGE', this.target, `region ${index} (${info.size} bytes) is too large to map into JavaScript (${MAX_MAPPING} bytes at most)`);
    const result = native.vfioDeviceMapRegion(fd, info.offset, info.size);
    if (typeof result === 'number') throw syscallError(result, { syscall: 'mmap', request: 'mmap', target: this.target, args: `region ${index}` });
    return new RegionMapping(CONSTRUCTING, result, info.size);
  }

  /** VFIO_DEVICE_GET_IRQ_INFO for a {@link PciIrq} index. */
  irqInfo(index: number): VfioIrqInfo {
    const fd = this.fdFor('irqInfo');
    checkInteger('index', index, 0, 0xffff_ffff);
    const result = native.vfioDeviceGetIrqInfo(fd, index);
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'VFIO_DEVICE_GET_IRQ_INFO', target: this.target, args: `index ${index}` });
    return result;
  }

  /**
   * VFIO_DEVICE_SET_IRQS (DATA_EVENTFD, ACTION_TRIGGER): vector `start + i` of `index` signals
   * `eventFds[i]` (null leaves that vector without one). The first call enables the index; the
   * eventfds stay bound after they are closed here (the kernel holds its own reference).
   *
   * @example
   * device.setIrqEventFds(PciIrq.INTX, [intx]);  // the line fires -> intx; unmaskIrq after the guest's EOI
   */
  setIrqEventFds(index: number, eventFds: readonly (EventFd | null)[], start = 0): void {
    const fd = this.fdFor('setIrqEventFds');
    checkInteger('index', index, 0, 0xffff_ffff);
    if (!Array.isArray(eventFds) || eventFds.length === 0) throw invalidArgType('eventFds', 'a non-empty array of EventFd or null', eventFds);
    checkInteger('start', start, 0, 0xffff_ffff - eventFds.length);
    const fds = Int32Array.from(eventFds, (eventFd, i) => {
      if (eventFd === null) return -1;
      checkInstance(`eventFds[${i}]`, eventFd, EventFd);
      return fdOf(eventFd, 'setIrqEventFds');
    });
    this.#setIrqs(fd, index, start, fds.length, IrqAction.TRIGGER, fds, `${fds.length} eventfds`);
  }

  /**
   * VFIO_DEVICE_SET_IRQS (DATA_EVENTFD, ACTION_UNMASK): signalling `eventFd` unmasks the vector, in
   * the kernel. Give the same eventfd to vm.irqfd as `resample`, and the guest's EOI in an
   * in-kernel interrupt controller unmasks a passed-through INTx without a trip through user space.
   */
  setIrqUnmaskEventFd(index: number, eventFd: EventFd, vector = 0): void {
    const fd = this.fdFor('setIrqUnmaskEventFd');
    checkInteger('index', index, 0, 0xffff_ffff);
    checkInstance('eventFd', eventFd, EventFd);
    checkInteger('vector', vector, 0, 0xffff_fffe);
    this.#setIrqs(fd, index, vector, 1, IrqAction.UNMASK, Int32Array.of(fdOf(eventFd, 'setIrqUnmaskEventFd')), 'unmask eventfd');
  }

  /** VFIO_DEVICE_SET_IRQS (DATA_NONE, ACTION_TRIGGER, count 0): disables every vector of `index`. */
  disableIrqs(index: number): void {
    const fd = this.fdFor('disableIrqs');
    checkInteger('index', index, 0, 0xffff_ffff);
    this.#setIrqs(fd, index, 0, 0, IrqAction.TRIGGER, undefined, 'disable');
  }

  /** VFIO_DEVICE_SET_IRQS (DATA_NONE, ACTION_UNMASK): lets a masked vector fire again (INTx after the guest's EOI). */
  unmaskIrq(index: number, vector = 0): void {
    this.#maskAction('unmaskIrq', index, vector, IrqAction.UNMASK);
  }

  /** VFIO_DEVICE_SET_IRQS (DATA_NONE, ACTION_MASK). */
  maskIrq(index: number, vector = 0): void {
    this.#maskAction('maskIrq', index, vector, IrqAction.MASK);
  }

  #maskAction(method: string, index: number, vector: number, action: number): void {
    const fd = this.fdFor(method);
    checkInteger('index', index, 0, 0xffff_ffff);
    checkInteger('vector', vector, 0, 0xffff_fffe);
    this.#setIrqs(fd, index, vector, 1, action, undefined, action === IrqAction.MASK ? 'mask' : 'unmask');
  }

  #setIrqs(fd: number, index: number, start: number, count: number, action: number, fds: Int32Array | undefined, what: string): void {
    const result = native.vfioDeviceSetIrqs(fd, index, start, count, action, fds);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'VFIO_DEVICE_SET_IRQS', target: this.target, args: `index ${index}, start ${start}, ${what}` });
  }

  /** VFIO_DEVICE_RESET. */
  reset(): void {
    checkIoctl(native.vfioDeviceReset(this.fdFor('reset')), 'VFIO_DEVICE_RESET', this.target);
  }

  /** The file position of a checked access; asks the kernel for the region once its arguments are valid. */
  private position(region: number, offset: bigint, width: number): bigint {
    checkAccess(region, offset, width);
    const info = this.regionInfo(region);
    if (offset + BigInt(width) > info.size) throw outOfRange('offset', `<= ${info.size - BigInt(width)} (region ${region} has ${info.size} bytes)`, offset);
    return info.offset + offset;
  }
}
