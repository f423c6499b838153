// A VM fd.
import { readlinkSync } from 'node:fs';
import { Cap, DeviceType, VmType } from './constants.js';
import { KvmDevice } from './device.js';
import { syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject, fdOf, requireConstructing } from './handle.js';
import { Kvm, capabilityName, checkExtensionOn } from './kvm.js';
import { KvmVfioDevice } from './kvm-vfio-device.js';
import { native } from './native.js';
import { SpaprTceTable, type SpaprTceTableOptions } from './spapr-tce-table.js';
import { type MappedMemory, type MemoryUser, checkMappedMemory } from './mapped-memory.js';
import { Vcpu } from './vcpu.js';
import { EventFd } from './event-fd.js';
import { checkBigU64, checkInstance, checkInteger, checkOptions, checkU32, checkU64, invalidArgType, invalidArgValue, outOfRange } from './validate.js';

const ENODEV = 19;
const EBUSY = 16;
const SPAPR_TCE_MIN_PAGE_SHIFT = 12;
const SPAPR_TCE_MAX_PAGE_SHIFT = 34;
const KVM_MEM_READONLY = 2;
// The partition table's guest-radix bit (arch/powerpc/include/asm/book3s/64/mmu.h PATB_GR).
const PATB_GR = 1n << 63n;
const RTAS_NAME_MAX = 118; // struct kvm_rtas_token_args.name[120], NUL-terminated

/** Options for {@link Vm.setMemoryRegion}. */
export interface MemoryRegionOptions {
  /** The memslot number. */
  slot: number;
  /** Where the memory appears in the guest. */
  guestPhysAddr: bigint;
  /** The whole of this memory becomes the slot: guest RAM, or a device's BAR (device.mapRegion). */
  memory: MappedMemory;
  /** KVM_MEM_READONLY: guest writes exit as MMIO. */
  readonly?: boolean;
}

/** One radix page size and its tree. */
export interface RadixGeometry {
  /** log2 of the page size (12: 4 KiB, 16: 64 KiB). */
  pageShift: number;
  /** The bits translated at each of the four levels of the radix tree. */
  levelBits: number[];
}

/** The radix MMU the host offers guests (KVM_PPC_GET_RMMU_INFO). */
export interface RadixMmuInfo {
  /** Each supported page size. */
  geometries: RadixGeometry[];
  /** The AP encodings (ibm,processor-radix-AP-encodings): AP in the top 3 bits, page shift below. */
  apEncodings: number[];
}

/** Options of {@link Vm.configureRadixMmu}. */
export interface RadixMmuOptions {
  /**
   * The partition table's second doubleword for this guest: the process table's base | its size
   * field, as the guest gives them in H_REGISTER_PROC_TBL. The GR bit (1n << 63n) is added.
   */
  processTable: bigint;
  /** The guest may use tlbie itself (guest translation shootdown enable, GTSE). */
  gtse?: boolean;
}

/** Options of {@link Vm.irqfd}. */
export interface IrqfdOptions {
  /** Signalling it raises `gsi`. */
  eventFd: EventFd;
  /** The guest interrupt (GSI) of the in-kernel interrupt controller. */
  gsi: number;
  /** Level-triggered: the kernel signals this eventfd when the guest acknowledges the interrupt (KVM_IRQFD_FLAG_RESAMPLE). */
  resample?: EventFd;
}

/** Options of {@link Vm.ioeventfd}. */
export interface IoeventfdOptions {
  /** Guest writes here signal it instead of exiting. */
  eventFd: EventFd;
  /** The guest-physical (MMIO) or port (PIO, x86) address. */
  address: bigint;
  /** The write's width in bytes: 1, 2, 4, 8, or 0 for any (default 4). */
  length?: number;
  /** Only writes of this value signal (KVM_IOEVENTFD_FLAG_DATAMATCH). */
  datamatch?: bigint;
  /** Port I/O instead of MMIO (x86 only). */
  pio?: boolean;
}

/** Up to four u64 arguments of KVM_ENABLE_CAP (kvm_enable_cap.args). */
export type EnableCapArgs = readonly (bigint | number)[];

/** A virtual machine. It keeps its {@link Kvm} alive; its devices keep it alive. */
export class Vm extends FdObject {
  /** The system object this VM was created from. */
  readonly kvm: Kvm;
  /** The KVM_CREATE_VM type. */
  readonly type: number;
  readonly #capabilities = new Map<number, number>();
  #vfioDevice: KvmVfioDevice | undefined;
  readonly #slots = new Map<number, { memory: MappedMemory; user: MemoryUser }>();

  private constructor(token: typeof CONSTRUCTING, fd: number, kvm: Kvm, type: number) {
    super(token, fd, 'vm');
    this.kvm = kvm;
    this.type = type;
  }

  /**
   * Wraps a VM fd received from elsewhere (a worker of this process, or a fd passed by a parent);
   * the library owns a CLOEXEC duplicate, the caller keeps and closes its own fd. `fd` must be a KVM
   * VM (anon_inode:kvm-vm); `kvm` becomes its parent. KVM answers EIO to every call on a VM made by
   * another process (virt/kvm/kvm_main.c kvm_vm_ioctl: kvm->mm != current->mm).
   */
  static fromFd(fd: number, kvm: Kvm, type: VmType | number = VmType.DEFAULT): Vm {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    checkInstance('kvm', kvm, Kvm);
    checkU32('type', type);
    let file: string;
    try {
      file = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      file = 'not open';
    }
    if (file !== 'anon_inode:kvm-vm') throw invalidArgValue('fd', fd, `must be a KVM VM fd (anon_inode:kvm-vm; it is ${file})`);
    const owned = native.duplicateFd(fd);
    if (owned < 0) throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}`, args: `${fd}, F_DUPFD_CLOEXEC` });
    return new Vm(CONSTRUCTING, owned, kvm, type);
  }

  /** @internal Used by Kvm.createVm. */
  static fromOwnedFd(token: typeof CONSTRUCTING, fd: number, kvm: Kvm, type: number): Vm {
    requireConstructing(token, 'Vm');
    return new Vm(token, fd, kvm, type);
  }

  /** KVM_CHECK_EXTENSION on the VM fd: on POWER the answer reflects this VM's type (HV or PR). */
  checkExtension(cap: Cap | number): number {
    return checkExtensionOn(this.fdFor('checkExtension'), cap, this.target);
  }

  /**
   * KVM_CREATE_DEVICE with KVM_CREATE_DEVICE_TEST: whether this kernel can create the device type.
   * Nothing is created and no fd exists. ENODEV → false; any other failure throws.
   */
  supportsDevice(type: DeviceType | number): boolean {
    const fd = this.fdFor('supportsDevice');
    checkU32('type', type);
    const result = native.testDevice(fd, type);
    if (result === 0) return true;
    if (result === -ENODEV) return false;
    throw syscallError(result, { syscall: 'ioctl', request: 'KVM_CREATE_DEVICE', target: this.target, args: `type ${type}, KVM_CREATE_DEVICE_TEST` });
  }

  /** KVM_CREATE_DEVICE: a new in-kernel device of this type. */
  createDevice(type: DeviceType | number): KvmDevice {
    const fd = this.fdFor('createDevice');
    checkU32('type', type);
    const deviceFd = native.createDevice(fd, type);
    if (deviceFd < 0) {
      throw syscallError(deviceFd, {
        syscall: 'ioctl',
        request: 'KVM_CREATE_DEVICE',
        qualifiers: KvmDevice.qualifiersFor(type),
        target: this.target,
        args: `type ${type}`,
      });
    }
    return KvmDevice.fromOwnedFd(CONSTRUCTING, deviceFd, this, type);
  }

  /** @internal checkExtension on the VM fd, asked once per VM (the answer does not change). */
  capability(cap: number): number {
    let value = this.#capabilities.get(cap);
    if (value === undefined) {
      value = this.checkExtension(cap);
      this.#capabilities.set(cap, value);
    }
    return value;
  }

  /** The VM's open KVM-VFIO device, if createVfioDevice() made one. */
  get vfioDevice(): KvmVfioDevice | undefined {
    return this.#vfioDevice && !this.#vfioDevice.closed ? this.#vfioDevice : undefined;
  }

  /**
   * The VM's KVM-VFIO device, created on first call (KVM_CREATE_DEVICE type VFIO). The kernel allows
   * one per VM, so later calls return the same object while it is open. If one was created
   * elsewhere (e.g. createDevice(DeviceType.VFIO)), the kernel's EBUSY is explained.
   */
  createVfioDevice(): KvmVfioDevice {
    const fd = this.fdFor('createVfioDevice');
    if (this.#vfioDevice && !this.#vfioDevice.closed) return this.#vfioDevice;
    const deviceFd = native.createDevice(fd, DeviceType.VFIO);
    if (deviceFd < 0) {
      throw syscallError(deviceFd, {
        syscall: 'ioctl',
        request: 'KVM_CREATE_DEVICE',
        qualifiers: ['kvm-vfio'],
        target: this.target,
        args: `type ${DeviceType.VFIO}`,
        ...(deviceFd === -EBUSY && this.#vfioDevice?.closed
          ? { hint: 'this VM\'s KVM-VFIO device was closed here, but the kernel allows one per VM until its last fd is closed: a duplicate of it is still open elsewhere (a dup, or a process that inherited or received it), or this kernel predates kvm_vfio_release and keeps the device until the VM is destroyed' }
          : {}),
      });
    }
    this.#vfioDevice = KvmVfioDevice.fromOwnedVfioFd(CONSTRUCTING, deviceFd, this);
    return this.#vfioDevice;
  }

  /**
   * An in-kernel TCE table for `liobn` (KVM_CREATE_SPAPR_TCE_64). On kernels with only
   * KVM_CAP_SPAPR_TCE, falls back to the legacy KVM_CREATE_SPAPR_TCE when the window fits it
   * (4 KiB pages, offset 0, 32-bit LIOBN, window below 4 GiB).
   */
  createSpaprTceTable(options: SpaprTceTableOptions): SpaprTceTable {
    const fd = this.fdFor('createSpaprTceTable');
    const { liobn, pageShift = SPAPR_TCE_MIN_PAGE_SHIFT, offset = 0n, size } = checkOptions<SpaprTceTableOptions>('options', options);
    checkBigU64('options.liobn', liobn);
    checkInteger('options.pageShift', pageShift, 0, 63);
    checkBigU64('options.offset', offset);
    checkBigU64('options.size', size);
    const request = { liobn: liobn!, pageShift, offset, size: size! };
    if (this.capability(Cap.SPAPR_TCE_64) === 0 && this.capability(Cap.SPAPR_TCE) > 0) return this.createLegacyTable(fd, request);
    const tableFd = native.createSpaprTce64(fd, request.liobn, pageShift, offset, request.size);
    if (tableFd < 0) {
      throw syscallError(tableFd, {
        syscall: 'ioctl',
        request: 'KVM_CREATE_SPAPR_TCE_64',
        target: this.target,
        args: `liobn 0x${request.liobn.toString(16)}, page shift ${pageShift}, offset 0x${offset.toString(16)}, size 0x${request.size.toString(16)}`,
        ...(pageShift < SPAPR_TCE_MIN_PAGE_SHIFT || pageShift > SPAPR_TCE_MAX_PAGE_SHIFT
          ? { hint: `page shift ${pageShift} is outside ${SPAPR_TCE_MIN_PAGE_SHIFT}..${SPAPR_TCE_MAX_PAGE_SHIFT}, which the kernel refuses` }
          : {}),
      });
    }
    return SpaprTceTable.fromOwnedFd(CONSTRUCTING, tableFd, this, request, false);
  }

  private createLegacyTable(fd: number, request: Required<SpaprTceTableOptions>): SpaprTceTable {
    const windowSize = request.size << 12n;
    if (request.pageShift !== 12 || request.offset !== 0n || request.liobn > 0xffff_ffffn || windowSize > 0xffff_ffffn) {
      throw usageError('ERR_KVM_NO_TCE_64', this.target, 'this kernel has only the legacy KVM_CREATE_SPAPR_TCE (no KVM_CAP_SPAPR_TCE_64), which takes 4 KiB pages, offset 0, a 32-bit LIOBN and a window below 4 GiB');
    }
    const tableFd = native.createSpaprTce(fd, request.liobn, Number(windowSize));
    if (tableFd < 0) {
      throw syscallError(tableFd, { syscall: 'ioctl', request: 'KVM_CREATE_SPAPR_TCE', target: this.target, args: `liobn 0x${request.liobn.toString(16)}, window 0x${windowSize.toString(16)}` });
    }
    return SpaprTceTable.fromOwnedFd(CONSTRUCTING, tableFd, this, request, true);
  }

  /**
   * KVM_SET_USER_MEMORY_REGION: `memory` becomes guest RAM at `guestPhysAddr` in `slot`. Closing
   * the memory deletes the slot first.
   */
  setMemoryRegion(options: MemoryRegionOptions): void {
    const fd = this.fdFor('setMemoryRegion');
    const { slot, guestPhysAddr, memory, readonly = false } = checkOptions<MemoryRegionOptions>('options', options);
    checkInteger('options.slot', slot, 0, 0x7fff);
    checkBigU64('options.guestPhysAddr', guestPhysAddr);
    checkMappedMemory('options.memory', memory);
    if (typeof readonly !== 'boolean') throw invalidArgType('options.readonly', 'of type boolean', readonly);
    const flags = readonly ? KVM_MEM_READONLY : 0;
    const result = native.setUserMemoryRegion(fd, slot!, flags, guestPhysAddr!, memory!.handleFor('setMemoryRegion'));
    if (result < 0) {
      throw syscallError(result, { syscall: 'ioctl', request: 'KVM_SET_USER_MEMORY_REGION', target: this.target, args: `slot ${slot}, guest 0x${guestPhysAddr!.toString(16)}, ${memory!.size} bytes` });
    }
    this.#slots.get(slot!)?.memory.removeUser(this.#slots.get(slot!)!.user);
    const user: MemoryUser = {
      description: `vm memory slot ${slot}`,
      release: () => {
        this.#slots.delete(slot!);
        if (!this.closed) native.deleteUserMemoryRegion(this.fdFor('release'), slot!);
      },
    };
    this.#slots.set(slot!, { memory: memory!, user });
    memory!.addUser(user);
  }

  /** Deletes memslot `slot` (KVM_SET_USER_MEMORY_REGION with size 0). */
  deleteMemoryRegion(slot: number): void {
    const fd = this.fdFor('deleteMemoryRegion');
    checkInteger('slot', slot, 0, 0x7fff);
    const result = native.deleteUserMemoryRegion(fd, slot);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_SET_USER_MEMORY_REGION', target: this.target, args: `slot ${slot}, size 0` });
    const entry = this.#slots.get(slot);
    if (entry) entry.memory.removeUser(entry.user);
    this.#slots.delete(slot);
  }

  /** KVM_CREATE_VCPU, with its kvm_run mapped (KVM_GET_VCPU_MMAP_SIZE bytes). */
  createVcpu(id: number): Vcpu {
    const fd = this.fdFor('createVcpu');
    checkInteger('id', id, 0, 0xffff_ffff);
    const mmapSize = Kvm.vcpuMmapSizeOf(this.kvm); // known since kvm was opened; kvm may be closed by now
    const vcpuFd = native.createVcpu(fd, id);
    if (vcpuFd < 0) throw syscallError(vcpuFd, { syscall: 'ioctl', request: 'KVM_CREATE_VCPU', target: this.target, args: `id ${id}` });
    return Vcpu.fromOwnedFd(CONSTRUCTING, vcpuFd, this, id, mmapSize);
  }

  /** KVM_GET_STATS_FD on the VM: its binary statistics by name. */
  stats(): Record<string, bigint | bigint[]> {
    const result = native.stats(this.fdFor('stats'));
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'KVM_GET_STATS_FD', target: this.target });
    return result;
  }

  /**
   * KVM_PPC_CONFIGURE_V3_MMU for a radix guest: how a VMM answers H_REGISTER_PROC_TBL. A nested
   * kvm-hv (a host that is itself a pseries partition) runs radix guests only.
   */
  configureRadixMmu(options: RadixMmuOptions): void {
    const fd = this.fdFor('configureRadixMmu');
    const { processTable, gtse = false } = checkOptions<RadixMmuOptions>('options', options);
    checkBigU64('options.processTable', processTable);
    if (typeof gtse !== 'boolean') throw invalidArgType('options.gtse', 'of type boolean', gtse);
    const flags = BigInt(native.constants.KVM_PPC_MMUV3_RADIX! | (gtse ? native.constants.KVM_PPC_MMUV3_GTSE! : 0));
    const table = processTable! | PATB_GR;
    const result = native.configureV3Mmu(fd, flags, table);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_PPC_CONFIGURE_V3_MMU', target: this.target, args: `radix${gtse ? ' | gtse' : ''}, process table 0x${table.toString(16)}` });
  }

  /** KVM_PPC_GET_RMMU_INFO: the radix page sizes and AP encodings a guest's device tree should list. */
  radixMmuInfo(): RadixMmuInfo {
    const result = native.getRmmuInfo(this.fdFor('radixMmuInfo'));
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'KVM_PPC_GET_RMMU_INFO', target: this.target });
    return result;
  }

  /**
   * KVM_PPC_RTAS_DEFINE_TOKEN: the kernel answers the RTAS call `name` (an in-kernel XICS's
   * ibm,set-xive and friends) when the guest uses `token`; token 0 undefines it.
   */
  defineRtasToken(name: string, token: number): void {
    const fd = this.fdFor('defineRtasToken');
    if (typeof name !== 'string' || name.length === 0 || name.includes('\u0000') || Buffer.byteLength(name) > RTAS_NAME_MAX) {
      throw invalidArgValue('name', name, `must be an RTAS call name of 1 to ${RTAS_NAME_MAX} bytes without NUL`);
    }
    checkInteger('token', token, 0, 0xffff_ffff);
    const result = native.rtasDefineToken(fd, name, BigInt(token));
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_PPC_RTAS_DEFINE_TOKEN', target: this.target, args: `${name}, token ${token}` });
  }

  /** KVM_PPC_ALLOCATE_HTAB: a hashed page table of 2^order bytes for a hash-MMU guest; returns the order allocated. */
  allocateHashPageTable(order: number): number {
    const fd = this.fdFor('allocateHashPageTable');
    checkInteger('order', order, 0, 63);
    const result = native.allocateHtab(fd, order);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_PPC_ALLOCATE_HTAB', target: this.target, args: `order ${order}` });
    return result;
  }

  /** KVM_IRQ_LINE: sets interrupt `irq` of the in-kernel interrupt controller high or low. */
  irqLine(irq: number, level: boolean): void {
    const fd = this.fdFor('irqLine');
    checkInteger('irq', irq, 0, 0xffff_ffff);
    if (typeof level !== 'boolean') throw invalidArgType('level', 'of type boolean', level);
    const result = native.irqLine(fd, irq, level ? 1 : 0);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_IRQ_LINE', target: this.target, args: `irq ${irq}, level ${level ? 1 : 0}` });
  }

  /** KVM_IRQFD: signalling `eventFd` raises `gsi` in the kernel, without a trip through user space. */
  irqfd(options: IrqfdOptions): void {
    this.#irqfd('irqfd', options, false);
  }

  /** KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN: undoes {@link Vm.irqfd}. */
  removeIrqfd(options: IrqfdOptions): void {
    this.#irqfd('removeIrqfd', options, true);
  }

  /** KVM_IOEVENTFD: a guest write to `address` signals `eventFd` and the vCPU goes on without an exit. */
  ioeventfd(options: IoeventfdOptions): void {
    this.#ioeventfd('ioeventfd', options, false);
  }

  /** KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN: undoes {@link Vm.ioeventfd} (same options). */
  removeIoeventfd(options: IoeventfdOptions): void {
    this.#ioeventfd('removeIoeventfd', options, true);
  }

  #irqfd(method: string, options: IrqfdOptions, deassign: boolean): void {
    const fd = this.fdFor(method);
    const { eventFd, gsi, resample } = checkOptions<IrqfdOptions>('options', options);
    checkInstance('options.eventFd', eventFd, EventFd);
    checkInteger('options.gsi', gsi, 0, 0xffff_ffff);
    if (resample !== undefined) checkInstance('options.resample', resample, EventFd);
    const c = native.constants;
    const flags = (deassign ? c.KVM_IRQFD_FLAG_DEASSIGN! : 0) | (resample && !deassign ? c.KVM_IRQFD_FLAG_RESAMPLE! : 0);
    const resampleFd = resample && !deassign ? fdOf(resample, method) : -1;
    const result = native.irqfd(fd, fdOf(eventFd!, method), gsi!, flags, resampleFd);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_IRQFD', target: this.target, args: `gsi ${gsi}${resample ? ', resample' : ''}${deassign ? ', deassign' : ''}` });
  }

  #ioeventfd(method: string, options: IoeventfdOptions, deassign: boolean): void {
    const fd = this.fdFor(method);
    const { eventFd, address, length = 4, datamatch, pio = false } = checkOptions<IoeventfdOptions>('options', options);
    checkInstance('options.eventFd', eventFd, EventFd);
    checkBigU64('options.address', address);
    if (![0, 1, 2, 4, 8].includes(length)) throw invalidArgValue('options.length', length, 'must be 0, 1, 2, 4 or 8');
    if (datamatch !== undefined) checkBigU64('options.datamatch', datamatch);
    if (typeof pio !== 'boolean') throw invalidArgType('options.pio', 'of type boolean', pio);
    const c = native.constants;
    const flags = (datamatch !== undefined ? c.KVM_IOEVENTFD_FLAG_DATAMATCH! : 0) | (pio ? c.KVM_IOEVENTFD_FLAG_PIO! : 0) | (deassign ? c.KVM_IOEVENTFD_FLAG_DEASSIGN! : 0);
    const result = native.ioeventfd(fd, fdOf(eventFd!, method), address!, length, flags, datamatch ?? 0n);
    if (result < 0) {
      throw syscallError(result, { syscall: 'ioctl', request: 'KVM_IOEVENTFD', target: this.target, args: `0x${address!.toString(16)}, ${length} bytes${datamatch !== undefined ? `, datamatch 0x${datamatch.toString(16)}` : ''}${deassign ? ', deassign' : ''}` });
    }
  }

  /**
   * KVM_ENABLE_CAP on the VM, e.g. `vm.enableCap(Cap.PPC_ENABLE_HCALL, [0x138n, 1n])` to let the
   * kernel handle H_STUFF_TCE.
   */
  enableCap(cap: Cap | number, args: EnableCapArgs = []): void {
    enableCapOn(this.fdFor('enableCap'), cap, args, this.target);
  }
}

/** KVM_ENABLE_CAP on a VM or vCPU fd. */
export function enableCapOn(fd: number, cap: unknown, args: unknown, target: string): void {
  checkU32('cap', cap);
  if (!Array.isArray(args)) throw invalidArgType('args', 'an array of up to 4 u64 values', args);
  if (args.length > 4) throw outOfRange('args.length', '<= 4', args.length);
  const values = [0, 0, 0, 0].map((zero, i) => (i < args.length ? checkU64(`args[${i}]`, args[i]) : zero));
  const result = native.enableCap(fd, cap as number, values[0]!, values[1]!, values[2]!, values[3]!);
  if (result < 0) {
    throw syscallError(result, {
      syscall: 'ioctl',
      request: 'KVM_ENABLE_CAP',
      qualifiers: [capabilityName(cap as number)],
      target,
      args: [capabilityName(cap as number), ...values.slice(0, args.length).map((v) => `0x${v.toString(16)}`)].join(', '),
    });
  }
}
