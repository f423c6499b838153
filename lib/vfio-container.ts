// /dev/vfio/vfio with the sPAPR TCE IOMMU, v1 (SPAPR_TCE) and v2 (SPAPR_TCE_V2).
// Kernel: drivers/vfio/vfio_iommu_spapr_tce.c (tce_iommu_ioctl).
import { IommuType } from './constants.js';
import { checkIoctl, syscallError, usageError } from './errors.js';
import { type GuestMemory, type MemoryUser, checkMemory } from './guest-memory.js';
import { CONSTRUCTING, FdObject } from './handle.js';
import { native } from './native.js';
import { checkBigU64, checkBoolean, checkInteger, checkOptions, checkString, checkU32, outOfRange } from './validate.js';

/** VFIO_API_VERSION */
export const VFIO_API_VERSION = 0;

const VFIO_DMA_MAP_FLAG_READ = 1;
const VFIO_DMA_MAP_FLAG_WRITE = 2;

/** What VFIO_IOMMU_SPAPR_TCE_GET_INFO reports. */
export interface SpaprInfo {
  /** The default 32-bit DMA window. */
  dma32WindowStart: bigint;
  /** Its size in bytes. */
  dma32WindowSize: bigint;
  /** Dynamic DMA windows (v2 containers on platforms with DDW). */
  ddw?: {
    /** IOMMU page shifts the platform supports, e.g. [12, 16, 24]. */
    pageShifts: number[];
    /** How many dynamic windows a container may create. */
    maxDynamicWindows: number;
    /** The most TCE table levels a window may have. */
    levels: number;
  };
}

/** A DMA window this container created (v2). */
export interface DmaWindow {
  /** The window's first bus address (IOVA), chosen by the platform. */
  readonly startAddr: bigint;
  /** Its size in bytes. */
  readonly windowSize: bigint;
  /** Its IOMMU page shift. */
  readonly pageShift: number;
  /** Levels of its TCE table. */
  readonly levels: number;
}

/** An IOMMU type by its names: 'v2 (VFIO_SPAPR_TCE_v2_IOMMU, type 7)'. */
export function iommuTypeName(type: number): string {
  if (type === IommuType.SPAPR_TCE_V2) return `v2 (VFIO_SPAPR_TCE_v2_IOMMU, type ${type})`;
  if (type === IommuType.SPAPR_TCE) return `v1 (VFIO_SPAPR_TCE_IOMMU, type ${type})`;
  return `IOMMU type ${type}`;
}

/** Options for {@link VfioContainer.createWindow}. */
export interface CreateWindowOptions {
  /** IOMMU page shift; one of spaprInfo().ddw.pageShifts. */
  pageShift: number;
  /** Window size in bytes (a power of two). */
  windowSize: bigint;
  /** TCE table levels (1 unless the table is very large). */
  levels?: number;
}

/** Options for {@link VfioContainer.mapDma}. */
export interface MapDmaOptions {
  /** The guest memory to map. */
  memory: GuestMemory;
  /** Offset into the memory, in bytes (default 0). */
  offset?: bigint;
  /** IO virtual (bus) address. */
  iova: bigint;
  /** Bytes to map (default: the rest of the memory from offset). */
  size?: bigint;
  /** The device may read the memory (default true). */
  read?: boolean;
  /** The device may write the memory (default true). */
  write?: boolean;
}

function pageShiftsOf(mask: bigint): number[] {
  const shifts: number[] = [];
  for (let shift = 0; shift < 64; shift += 1) if ((mask >> BigInt(shift)) & 1n) shifts.push(shift);
  return shifts;
}

/**
 * A VFIO container with the sPAPR TCE IOMMU.
 *
 * @example
 * using container = VfioContainer.open();
 * group.setContainer(container);
 * container.setIommu(IommuType.SPAPR_TCE_V2);
 * const { startAddr } = container.createWindow({ pageShift: 12, windowSize: 1n << 30n });
 */
export class VfioContainer extends FdObject {
  /** VFIO_GET_API_VERSION (0). */
  readonly apiVersion: number;
  #iommuType: number | undefined;
  #enabled = false;
  readonly #windows: DmaWindow[] = [];
  readonly #registrations = new Map<GuestMemory, MemoryUser>();
  /** @internal Groups attached with VfioGroup.setContainer, maintained by VfioGroup. */
  readonly attachedGroups = new Set<object>();

  private constructor(token: typeof CONSTRUCTING, fd: number, apiVersion: number) {
    super(token, fd, 'vfio container');
    this.apiVersion = apiVersion;
  }

  /** Opens /dev/vfio/vfio (O_RDWR | O_CLOEXEC) and checks VFIO_GET_API_VERSION. */
  static open(path: string = '/dev/vfio/vfio'): VfioContainer {
    checkString('path', path);
    return VfioContainer.fromOwnedFd(VfioContainer.openFd(path));
  }

  /**
   * @internal /dev/vfio/vfio for attachIommuGroup, without VFIO_GET_API_VERSION, so that attach
   * issues exactly the minimal sequence (kernel-abi.md §6): the version has been 0 since VFIO
   * first shipped, and the next call, VFIO_GROUP_SET_CONTAINER, fails with EBADFD on any fd that
   * is not a VFIO container.
   */
  static openForAttach(): VfioContainer {
    return new VfioContainer(CONSTRUCTING, VfioContainer.openFd('/dev/vfio/vfio'), VFIO_API_VERSION);
  }

  private static openFd(path: string): number {
    const fd = native.openDevice(path);
    if (fd < 0) throw syscallError(fd, { syscall: 'open', request: 'open', qualifiers: ['vfio container'], target: 'vfio container', args: `'${path}'` });
    return fd;
  }

  /** Wraps a container fd received from elsewhere; the library owns a CLOEXEC duplicate. */
  static fromFd(fd: number): VfioContainer {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    const owned = native.duplicateFd(fd);
    if (owned < 0) throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}`, args: `${fd}, F_DUPFD_CLOEXEC` });
    return VfioContainer.fromOwnedFd(owned);
  }

  private static fromOwnedFd(fd: number): VfioContainer {
    const version = native.vfioGetApiVersion(fd);
    if (version === VFIO_API_VERSION) return new VfioContainer(CONSTRUCTING, fd, version);
    native.closeFd(fd);
    if (version < 0) throw syscallError(version, { syscall: 'ioctl', request: 'VFIO_GET_API_VERSION', target: 'vfio container' });
    throw usageError('ERR_VFIO_API_VERSION', 'vfio container', `VFIO_GET_API_VERSION returned ${version}; this library speaks VFIO API ${VFIO_API_VERSION}`);
  }

  /** The IOMMU type set with setIommu(), if any. */
  get iommuType(): number | undefined {
    return this.#iommuType;
  }

  /** VFIO_CHECK_EXTENSION: e.g. checkExtension(IommuType.SPAPR_TCE_V2) is 1 on POWER hosts. */
  checkExtension(extension: IommuType | number): number {
    const fd = this.fdFor('checkExtension');
    checkU32('extension', extension);
    return checkIoctl(native.vfioCheckExtension(fd, extension), 'VFIO_CHECK_EXTENSION', this.target, String(extension));
  }

  /** VFIO_SET_IOMMU: SPAPR_TCE (v1) or SPAPR_TCE_V2. A group must be attached first. */
  setIommu(type: IommuType | number): void {
    const fd = this.fdFor('setIommu');
    checkU32('type', type);
    if (this.#iommuType !== undefined) throw usageError('ERR_VFIO_IOMMU_SET', this.target, `the IOMMU type is already set (${this.#iommuType})`);
    checkIoctl(native.vfioSetIommu(fd, type), 'VFIO_SET_IOMMU', this.target, `type ${type}`);
    this.#iommuType = type;
  }

  /** VFIO_IOMMU_SPAPR_TCE_GET_INFO: the default window and, on v2 with DDW, what windows can be made. */
  spaprInfo(): SpaprInfo {
    const fd = this.fdFor('spaprInfo');
    this.requireIommu('spaprInfo', [IommuType.SPAPR_TCE, IommuType.SPAPR_TCE_V2]);
    const info = native.spaprTceGetInfo(fd);
    if (typeof info === 'number') throw syscallError(info, { syscall: 'ioctl', request: 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', target: this.target });
    const result: SpaprInfo = { dma32WindowStart: BigInt(info.dma32WindowStart), dma32WindowSize: BigInt(info.dma32WindowSize) };
    if (info.flags & 1) {
      result.ddw = { pageShifts: pageShiftsOf(info.pageSizes), maxDynamicWindows: info.maxDynamicWindows, levels: info.levels };
    }
    return result;
  }

  /** VFIO_IOMMU_ENABLE (v1): accounts the default window against RLIMIT_MEMLOCK. */
  enable(): void {
    const fd = this.fdFor('enable');
    this.requireIommu('enable', [IommuType.SPAPR_TCE]);
    checkIoctl(native.vfioIommuEnable(fd), 'VFIO_IOMMU_ENABLE', this.target);
    this.#enabled = true;
  }

  /** VFIO_IOMMU_DISABLE (v1). */
  disable(): void {
    const fd = this.fdFor('disable');
    this.requireIommu('disable', [IommuType.SPAPR_TCE]);
    checkIoctl(native.vfioIommuDisable(fd), 'VFIO_IOMMU_DISABLE', this.target);
    this.#enabled = false;
  }

  /** True after enable() (v1). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * VFIO_IOMMU_MAP_DMA: maps part of guest memory at `iova`. v1 needs enable() first (the first
   * map or unmap creates the default window); v2 needs the memory registered.
   */
  mapDma(options: MapDmaOptions): void {
    const fd = this.fdFor('mapDma');
    const { memory, offset = 0n, iova, size, read = true, write = true } = checkOptions<MapDmaOptions>('options', options);
    checkMemory('options.memory', memory);
    checkBigU64('options.offset', offset);
    checkBigU64('options.iova', iova);
    checkBoolean('options.read', read);
    checkBoolean('options.write', write);
    const length = size === undefined ? memory!.size - offset : checkBigU64('options.size', size, 1n);
    if (offset + length > memory!.size) throw outOfRange(size === undefined ? 'options.offset' : 'options.size', `offset + size <= ${memory!.size} (the memory's size)`, size ?? offset);
    this.requireIommu('mapDma', [IommuType.SPAPR_TCE, IommuType.SPAPR_TCE_V2]);
    const flags = (read ? VFIO_DMA_MAP_FLAG_READ : 0) | (write ? VFIO_DMA_MAP_FLAG_WRITE : 0);
    const result = native.vfioMapDma(fd, memory!.handleFor('mapDma'), offset, iova!, length, flags);
    checkIoctl(result, 'VFIO_IOMMU_MAP_DMA', this.target, `iova 0x${iova!.toString(16)}, size 0x${length.toString(16)}`);
  }

  /** VFIO_IOMMU_UNMAP_DMA. */
  unmapDma(options: { iova: bigint; size: bigint }): void {
    const fd = this.fdFor('unmapDma');
    const { iova, size } = checkOptions<{ iova: bigint; size: bigint }>('options', options);
    checkBigU64('options.iova', iova);
    checkBigU64('options.size', size, 1n);
    this.requireIommu('unmapDma', [IommuType.SPAPR_TCE, IommuType.SPAPR_TCE_V2]);
    checkIoctl(native.vfioUnmapDma(fd, iova!, size!), 'VFIO_IOMMU_UNMAP_DMA', this.target, `iova 0x${iova!.toString(16)}, size 0x${size!.toString(16)}`);
  }

  /**
   * VFIO_IOMMU_SPAPR_REGISTER_MEMORY (v2): pins the memory so TCEs pointing into it can be built,
   * also by the in-kernel H_PUT_TCE handler. Undone by unregisterMemory() or memory.close().
   */
  registerMemory(memory: GuestMemory): void {
    const fd = this.fdFor('registerMemory');
    this.checkRegistration('registerMemory', memory);
    const result = native.spaprRegisterMemory(fd, memory.handleFor('registerMemory'));
    this.recordRegistration(result, memory);
  }

  /** registerMemory off the main thread: pinning a large guest takes long. */
  async registerMemoryAsync(memory: GuestMemory): Promise<void> {
    const fd = this.fdFor('registerMemoryAsync');
    this.checkRegistration('registerMemoryAsync', memory);
    const result = await native.spaprRegisterMemoryAsync(fd, memory.handleFor('registerMemoryAsync'));
    this.recordRegistration(result, memory);
  }

  /** VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY (v2). */
  unregisterMemory(memory: GuestMemory): void {
    const fd = this.fdFor('unregisterMemory');
    this.checkUnregistration('unregisterMemory', memory);
    this.forgetRegistration(native.spaprUnregisterMemory(fd, memory.handleFor('unregisterMemory')), memory);
  }

  /** unregisterMemory off the main thread: unpinning a large guest takes as long as pinning it. */
  async unregisterMemoryAsync(memory: GuestMemory): Promise<void> {
    const fd = this.fdFor('unregisterMemoryAsync');
    this.checkUnregistration('unregisterMemoryAsync', memory);
    this.forgetRegistration(await native.spaprUnregisterMemoryAsync(fd, memory.handleFor('unregisterMemoryAsync')), memory);
  }

  private checkUnregistration(method: string, memory: GuestMemory): void {
    checkMemory('memory', memory);
    this.requireIommu(method, [IommuType.SPAPR_TCE_V2]);
  }

  private forgetRegistration(result: number, memory: GuestMemory): void {
    checkIoctl(result, 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY', this.target, `${memory.size} bytes`);
    const user = this.#registrations.get(memory);
    if (user) memory.removeUser(user);
    this.#registrations.delete(memory);
  }

  /** Memory registered with this container. */
  get registeredMemory(): readonly GuestMemory[] {
    return [...this.#registrations.keys()];
  }

  /**
   * VFIO_IOMMU_SPAPR_TCE_CREATE (v2): a DMA window; the platform picks its start address. The
   * kernel first instantiates the pending default window if it was not removed.
   */
  createWindow(options: CreateWindowOptions): DmaWindow {
    const fd = this.fdFor('createWindow');
    const request = this.checkWindowRequest('createWindow', options);
    const result = native.spaprCreateWindow(fd, request.pageShift, request.windowSize, request.levels);
    return this.recordWindow(result, request);
  }

  /** createWindow off the main thread: allocating a large TCE table takes long. */
  async createWindowAsync(options: CreateWindowOptions): Promise<DmaWindow> {
    const fd = this.fdFor('createWindowAsync');
    const request = this.checkWindowRequest('createWindowAsync', options);
    const result = await native.spaprCreateWindowAsync(fd, request.pageShift, request.windowSize, request.levels);
    return this.recordWindow(result, request);
  }

  /** VFIO_IOMMU_SPAPR_TCE_REMOVE (v2). Removing start 0 while the default window is pending cancels it. */
  removeWindow(startAddr: bigint): void {
    const fd = this.fdFor('removeWindow');
    this.checkRemoval('removeWindow', startAddr);
    this.forgetWindow(native.spaprRemoveWindow(fd, startAddr), startAddr);
  }

  /** removeWindow off the main thread: the kernel clears and frees the window's whole TCE table. */
  async removeWindowAsync(startAddr: bigint): Promise<void> {
    const fd = this.fdFor('removeWindowAsync');
    this.checkRemoval('removeWindowAsync', startAddr);
    this.forgetWindow(await native.spaprRemoveWindowAsync(fd, startAddr), startAddr);
  }

  private checkRemoval(method: string, startAddr: bigint): void {
    checkBigU64('startAddr', startAddr);
    this.requireIommu(method, [IommuType.SPAPR_TCE_V2]);
  }

  private forgetWindow(result: number, startAddr: bigint): void {
    checkIoctl(result, 'VFIO_IOMMU_SPAPR_TCE_REMOVE', this.target, `start 0x${startAddr.toString(16)}`);
    const index = this.#windows.findIndex((window) => window.startAddr === startAddr);
    if (index >= 0) this.#windows.splice(index, 1);
  }

  /** The windows createWindow() made and removeWindow() did not remove. */
  get windows(): readonly DmaWindow[] {
    return [...this.#windows];
  }

  /** VFIO_EEH_PE_OP with one of the VFIO_EEH_PE_* operations (see EehOp). Returns the kernel's result. */
  eehPeOp(op: number): number {
    const fd = this.fdFor('eehPeOp');
    checkU32('op', op);
    this.requireIommu('eehPeOp', [IommuType.SPAPR_TCE, IommuType.SPAPR_TCE_V2]);
    return checkIoctl(native.eehPeOp(fd, op), 'VFIO_EEH_PE_OP', this.target, `op ${op}`);
  }

  protected override beforeClose(): void {
    this.forgetRegistrations();
  }

  /**
   * @internal Called by VfioGroup.unsetContainer. Detaching the last group releases the
   * container's IOMMU backend in the kernel (drivers/vfio/container.c vfio_group_detach_container:
   * "Detaching the last group deprivileges a container"): its type, windows and memory
   * registrations are gone, so this object forgets them too.
   */
  groupDetached(group: object): void {
    this.attachedGroups.delete(group);
    if (this.attachedGroups.size > 0) return;
    this.#iommuType = undefined;
    this.#enabled = false;
    this.#windows.length = 0;
    this.forgetRegistrations();
  }

  private forgetRegistrations(): void {
    for (const [memory, user] of this.#registrations) memory.removeUser(user);
    this.#registrations.clear();
  }

  private requireIommu(method: string, types: readonly number[]): void {
    if (this.#iommuType === undefined) {
      throw usageError('ERR_VFIO_NO_IOMMU', this.target, `${method}() needs an IOMMU type: attach a group (group.setContainer) and call setIommu() first`);
    }
    if (!types.includes(this.#iommuType)) {
      const wanted = types.map(iommuTypeName);
      throw usageError('ERR_VFIO_WRONG_IOMMU', this.target, `${method}() needs a ${wanted.join(' or ')} container; this one is ${iommuTypeName(this.#iommuType)}`);
    }
  }

  private checkRegistration(method: string, memory: GuestMemory): void {
    checkMemory('memory', memory);
    this.requireIommu(method, [IommuType.SPAPR_TCE_V2]);
    if (this.#registrations.has(memory)) throw usageError('ERR_VFIO_ALREADY_REGISTERED', this.target, 'this memory is already registered with this container');
  }

  private recordRegistration(result: number, memory: GuestMemory): void {
    checkIoctl(result, 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', this.target, `${memory.size} bytes`);
    const user: MemoryUser = {
      description: 'registered with a vfio container',
      release: () => {
        this.#registrations.delete(memory);
        if (!this.closed) native.spaprUnregisterMemory(this.fdFor('release'), memory.handleFor('release'));
      },
    };
    this.#registrations.set(memory, user);
    memory.addUser(user);
  }

  private checkWindowRequest(method: string, options: unknown): Required<CreateWindowOptions> {
    const { pageShift, windowSize, levels = 1 } = checkOptions<CreateWindowOptions>('options', options);
    checkInteger('options.pageShift', pageShift, 12, 63);
    checkBigU64('options.windowSize', windowSize, 1n);
    checkInteger('options.levels', levels, 1, 8);
    this.requireIommu(method, [IommuType.SPAPR_TCE_V2]);
    return { pageShift: pageShift!, windowSize: windowSize!, levels };
  }

  private recordWindow(result: bigint | number, request: Required<CreateWindowOptions>): DmaWindow {
    if (typeof result === 'number') {
      throw syscallError(result, {
        syscall: 'ioctl',
        request: 'VFIO_IOMMU_SPAPR_TCE_CREATE',
        target: this.target,
        args: `page shift ${request.pageShift}, size 0x${request.windowSize.toString(16)}, levels ${request.levels}`,
      });
    }
    const window: DmaWindow = { startAddr: result, ...request };
    this.#windows.push(window);
    return window;
  }
}
