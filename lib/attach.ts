// attachIommuGroup: link a VFIO IOMMU group to a guest LIOBN in one call, in QEMU's order
// (kernel-abi.md §6), with rollback of every step on failure and a Linkage that undoes it all.
import { Cap, IommuType } from './constants.js';
import { KvmVfioError, closedError, usageError } from './errors.js';
import { type GuestMemory, checkMemory } from './guest-memory.js';
import { CONSTRUCTING, FdObject, requireConstructing } from './handle.js';
import type { KvmVfioDevice } from './kvm-vfio-device.js';
import { type Release, acquireStep, slowTeardown } from './shared-steps.js';
import type { SpaprTceTable } from './spapr-tce-table.js';
import { checkBigU64, checkInstance, checkInteger, checkOptions, invalidArgType, invalidArgValue } from './validate.js';
import { VfioContainer, iommuTypeName, type DmaWindow } from './vfio-container.js';
import { VfioGroup, devicesBlockingViability, groupDevicePath } from './vfio-group.js';
import { Vm } from './vm.js';

/** Options for {@link attachIommuGroup}. */
export interface AttachOptions {
  /** The group: its number (/dev/vfio/N), a path, or an open VfioGroup (the caller keeps owning it). */
  group: number | string | VfioGroup;
  /** The logical IO bus number the guest uses in H_PUT_TCE. */
  liobn: bigint;
  /**
   * Size of the LIOBN's DMA window in bytes. v2 creates a window this size; on the emulated pseries
   * host (QEMU 7.2, Linux 6.12) 1 GiB to 64 GiB windows were created (`doctor` tries 1 and 4 GiB per
   * group). v1 has only the default 32-bit window (1 GiB at 0 there), so it must fit inside it.
   */
  windowSize: bigint;
  /**
   * IOMMU page shift of the table (12 = 4 KiB ... 34). Default 12. The window gets the largest page
   * size the platform offers that is not larger (`container.spaprInfo().ddw.pageShifts`: 12, 16, 21,
   * 24 on QEMU pseries); v1's default window has 4 KiB pages.
   */
  pageShift?: number;
  /**
   * First bus address of the window in bytes. Default 0. The platform places v2 windows itself: on
   * QEMU pseries a 4 KiB-page window at 0 (in place of the default one), a 64 KiB-page window at 2^59;
   * a mismatch fails with ERR_VFIO_WINDOW_PLACEMENT, naming the busOffset to use.
   */
  busOffset?: bigint;
  /**
   * The container's IOMMU: 'v2' (default; needed for in-kernel H_PUT_TCE) or 'v1'. A group whose PHB
   * gives no window (ENODEV at step 'DMA window': the pseries failed-DDW list) fails with both.
   */
  iommu?: 'v2' | 'v1';
  /**
   * v2: guest memory to register with the container (VFIO_IOMMU_SPAPR_REGISTER_MEMORY). Without
   * it the kernel cannot map the guest's TCEs itself and every H_PUT_TCE exits to user space.
   */
  memory?: GuestMemory | readonly GuestMemory[];
  /** A container to use when the group has none yet (default: a new one, owned by the linkage). */
  container?: VfioContainer;
  /** TCE table levels of the v2 DMA window. Default 1. */
  levels?: number;
}

/** The steps of attachIommuGroup, as named in errors (`error.step`). */
export const AttachStep = {
  /** Checking KVM_CAP_SPAPR_TCE_VFIO, the TCE table capabilities and KVM_CAP_DEVICE_CTRL on the VM fd. */
  CAPABILITIES: 'capabilities',
  /** Creating (or reusing) the VM's KVM-VFIO device and checking it has SET_SPAPR_TCE. */
  KVM_VFIO_DEVICE: 'kvm-vfio device',
  /** Opening the VFIO group and checking that it is viable. */
  GROUP: 'group',
  /** Giving the group a container and setting the container's IOMMU type. */
  CONTAINER: 'container',
  /** Registering guest memory with the v2 container. */
  MEMORY: 'memory registration',
  /** Creating the v2 DMA window, or making the v1 default window exist. */
  DMA_WINDOW: 'DMA window',
  /** Creating the in-kernel TCE table for the LIOBN. */
  TCE_TABLE: 'TCE table',
  /** Adding the group to the KVM-VFIO device. */
  ADD_GROUP: 'add group',
  /** KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE: linking the group to the table. */
  LINK: 'link',
} as const;
export type AttachStep = (typeof AttachStep)[keyof typeof AttachStep];

/** How a linkage was made. */
export interface LinkageFlags {
  /** The container's sPAPR IOMMU version. */
  iommu: 'v2' | 'v1';
  /** Guest memory is registered with the container (in-kernel H_PUT_TCE can map it). */
  memoryRegistered: boolean;
  /** The table was made by the legacy KVM_CREATE_SPAPR_TCE. */
  legacyTable: boolean;
}

/**
 * A VFIO group linked to a LIOBN. close() or closeAsync() (or dispose) undoes, in reverse order, everything
 * attachIommuGroup did that no other linkage still needs.
 *
 * @example
 * const linkage = attachIommuGroup(vm, { group: 1, liobn: 0x80000000n, windowSize: 1n << 30n, memory });
 * console.log(linkage.group.target, linkage.window.startAddr, linkage.flags.memoryRegistered);
 * linkage.close(); // throws ERR_KVM_DETACH if a teardown step failed (the others are still undone)
 */
export class Linkage implements Disposable, AsyncDisposable {
  /** The logical IO bus number the guest uses for this device's DMA. */
  readonly liobn: bigint;
  /** The linked VFIO group (opened by the attach, or the caller's). */
  readonly group: VfioGroup;
  /** The group's container (new or existing). */
  readonly container: VfioContainer;
  /** The VM's KVM-VFIO device the group was added to. */
  readonly device: KvmVfioDevice;
  /** The in-kernel TCE table of the LIOBN: read it to see what the guest mapped. */
  readonly table: SpaprTceTable;
  /** The container's DMA window that covers the LIOBN's window. */
  readonly window: DmaWindow;
  /** How the linkage was made. */
  readonly flags: LinkageFlags;
  #releases: Release[] | undefined;

  /** @internal Made by attachIommuGroup. */
  constructor(token: typeof CONSTRUCTING, parts: Omit<Linkage, 'close' | 'closeAsync' | 'closed' | typeof Symbol.dispose | typeof Symbol.asyncDispose>, releases: Release[]) {
    requireConstructing(token, 'Linkage');
    this.liobn = parts.liobn;
    this.group = parts.group;
    this.container = parts.container;
    this.device = parts.device;
    this.table = parts.table;
    this.window = parts.window;
    this.flags = parts.flags;
    this.#releases = releases;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#releases === undefined;
  }

  /** Detaches: unlinks, then undoes the setup steps in reverse. Idempotent; throws if a step fails to undo. */
  close(): void {
    const releases = this.#takeReleases();
    if (releases) this.#reportFailures(releaseAll(releases));
  }

  /**
   * close() with the slow steps (removing the DMA window, which clears its whole TCE table, and
   * unregistering memory) off the main thread, so a large detach does not stall the event loop.
   * The linkage counts as closed from the call on; await it before attaching the same group again.
   */
  async closeAsync(): Promise<void> {
    const releases = this.#takeReleases();
    if (releases) this.#reportFailures(await releaseAllAsync(releases));
  }

  #takeReleases(): Release[] | undefined {
    const releases = this.#releases;
    this.#releases = undefined;
    return releases;
  }

  #reportFailures(failures: Error[]): void {
    if (failures.length === 0) return;
    throw new KvmVfioError(`detaching liobn 0x${this.liobn.toString(16)}: ${failures.map((f) => f.message).join('; ')}`, {
      code: 'ERR_KVM_DETACH',
      target: 'linkage',
      hint: 'some teardown steps failed; the rest were still undone',
    }, { cause: failures[0] });
  }

  /** close() for `using`, except that it never throws (teardown failures are dropped). */
  [Symbol.dispose](): void {
    try {
      this.close();
    } catch {
      // dispose never throws; close() reports failures to callers that want them
    }
  }
  /** closeAsync() for `await using`, except that it never rejects (teardown failures are dropped). */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.closeAsync();
    } catch {
      // like [Symbol.dispose]: closeAsync() reports failures to callers that want them
    }
  }

}

function releaseAll(releases: Release[]): Error[] {
  const failures: Error[] = [];
  for (const release of releases.reverse()) {
    try {
      release();
    } catch (error) {
      failures.push(error as Error);
    }
  }
  return failures;
}

async function releaseAllAsync(releases: Release[]): Promise<Error[]> {
  const failures: Error[] = [];
  for (const release of releases.reverse()) {
    try {
      await (release.async ? release.async() : release());
    } catch (error) {
      failures.push(error as Error);
    }
  }
  return failures;
}

interface Plan {
  liobn: bigint;
  windowSize: bigint;
  pageShift: number;
  busOffset: bigint;
  iommuType: number;
  iommu: 'v2' | 'v1';
  memory: GuestMemory[];
  container: VfioContainer | undefined;
  levels: number;
}

function checkAttachOptions(options: unknown, method: string): Plan & { group: number | string | VfioGroup } {
  const { group, liobn, windowSize, pageShift = 12, busOffset = 0n, iommu = 'v2', memory, container, levels = 1 } = checkOptions<AttachOptions>('options', options);
  if (group instanceof VfioGroup) {
    if (group.closed) throw closedError(group.target, method);
  } else if (typeof group === 'number' || typeof group === 'string') {
    groupDevicePath('options.group', group);
  } else {
    throw invalidArgType('options.group', 'a group number, a path or a VfioGroup', group);
  }
  checkBigU64('options.liobn', liobn);
  checkBigU64('options.windowSize', windowSize, 1n);
  checkInteger('options.pageShift', pageShift, 12, 34);
  checkBigU64('options.busOffset', busOffset);
  if (iommu !== 'v2' && iommu !== 'v1') throw invalidArgValue('options.iommu', iommu, "must be 'v2' or 'v1'");
  checkInteger('options.levels', levels, 1, 8);
  const pageSize = 1n << BigInt(pageShift);
  if (windowSize! % pageSize !== 0n || busOffset % pageSize !== 0n) {
    throw invalidArgValue('options.windowSize', windowSize, `and options.busOffset must be multiples of the IOMMU page size (${pageSize})`);
  }
  const memories = checkMemories(memory, method);
  if (container !== undefined && checkInstance('options.container', container, VfioContainer).closed) throw closedError(container.target, method);
  return {
    group: group!,
    liobn: liobn!,
    windowSize: windowSize!,
    pageShift,
    busOffset,
    iommu,
    iommuType: iommu === 'v2' ? IommuType.SPAPR_TCE_V2 : IommuType.SPAPR_TCE,
    memory: memories as GuestMemory[],
    container,
    levels,
  };
}

/** options.memory: a GuestMemory or an array of them, each open; checked before any syscall (also for v1, which does not register it). */
function checkMemories(memory: unknown, method: string): GuestMemory[] {
  if (memory === undefined) return [];
  const many = Array.isArray(memory);
  const memories: unknown[] = many ? [...memory] : [memory];
  memories.forEach((item, i) => {
    const checked = checkMemory(many ? `options.memory[${i}]` : 'options.memory', item);
    if (checked.closed) checked.handleFor(method); // throws ERR_KVM_CLOSED
  });
  return memories as GuestMemory[];
}

function notAvailable(step: AttachStep, code: string, hint: string): KvmVfioError {
  return new KvmVfioError(`attachIommuGroup failed at step '${step}': ${hint}`, { code, target: 'vm', hint, step });
}

function atStep(step: AttachStep, error: unknown): unknown {
  if (!(error instanceof KvmVfioError) || error.step !== undefined) return error;
  return new KvmVfioError(`attachIommuGroup failed at step '${step}': ${error.message}`, {
    code: error.code,
    errno: error.errno,
    syscall: error.syscall,
    request: error.request,
    target: error.target,
    hint: error.hint,
    source: error.source,
    step,
  }, { cause: error });
}

/** The attach, step by step; every step pushes how to undo it. */
class Attacher {
  readonly releases: Release[] = [];
  step: AttachStep = AttachStep.CAPABILITIES;

  constructor(readonly vm: Vm, readonly plan: Plan) {}

  /** Runs a step that is undone by closing what it opened. */
  own<T extends FdObject>(object: T, opened: boolean): T {
    if (opened) this.releases.push(slowTeardown(() => object.close(), () => object.closeAsync()));
    return object;
  }

  checkCapabilities(): void {
    if (this.vm.capability(Cap.SPAPR_TCE_VFIO) === 0) {
      throw notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_SPAPR_TCE_VFIO',
        'KVM_CAP_SPAPR_TCE_VFIO is 0 on this VM: the kernel cannot link VFIO groups to TCE tables (pseries hosts from ~5.0 until the 2025 fix b4392813bbc3, or not POWER); handle TCE hypercalls in user space');
    }
    if (this.vm.capability(Cap.SPAPR_TCE_64) === 0 && this.vm.capability(Cap.SPAPR_TCE) === 0) {
      throw notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_SPAPR_TCE', 'this kernel has no in-kernel TCE tables (KVM_CAP_SPAPR_TCE and _64 are 0)');
    }
    if (this.vm.capability(Cap.DEVICE_CTRL) === 0) {
      throw notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_DEVICE_CTRL', 'KVM_CAP_DEVICE_CTRL is 0: this kernel cannot create the KVM-VFIO device');
    }
  }

  kvmVfioDevice(): KvmVfioDevice {
    this.step = AttachStep.KVM_VFIO_DEVICE;
    // A device this attach creates is closed again when the last linkage lets it go, unless
    // groups added outside linkages still use it (the kernel lets a VM create it again after
    // its release: virt/kvm/vfio.c kvm_vfio_release). Groups closed while added cannot be
    // removed any more: releasing the device is what lets the kernel drop them (WARN-free, as
    // they were linked).
    this.releases.push(acquireStep(this.vm, 'kvm-vfio device', () => {
      if (this.vm.vfioDevice) return undefined;
      const created = this.vm.createVfioDevice();
      const unused = () => !created.closed && onlyClosedLinkedGroups(created);
      return slowTeardown(
        () => {
          if (unused()) created.close();
        },
        async () => {
          if (unused()) await created.closeAsync(); // its release waits for an RCU grace period
        },
      );
    }));
    const device = this.vm.createVfioDevice();
    if (!device.supportsSpaprTce()) {
      throw notAvailable(AttachStep.KVM_VFIO_DEVICE, 'ERR_KVM_NO_SET_SPAPR_TCE',
        'the KVM-VFIO device has no KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE attribute (kernel built without CONFIG_SPAPR_TCE_IOMMU)');
    }
    return device;
  }

  group(spec: number | string | VfioGroup): VfioGroup {
    this.step = AttachStep.GROUP;
    const opened = !(spec instanceof VfioGroup);
    const group = spec instanceof VfioGroup ? spec : this.own(VfioGroup.open(spec), true);
    // A group opened just now was read at open; asking again would be a second GET_STATUS.
    const status = opened ? group.statusAtOpen : group.status;
    if (!status.viable) {
      const blockers = group.number === undefined ? [] : devicesBlockingViability(group.number);
      const named = blockers.map((d) => `${d.name} (bound to ${d.driver})`).join(', ');
      throw notAvailable(AttachStep.GROUP, 'ERR_VFIO_GROUP_NOT_VIABLE',
        `${group.target} is not viable${named ? `: ${named} not bound to vfio-pci` : ''}; bind every device of the group to vfio-pci`);
    }
    return group;
  }

  container(group: VfioGroup): VfioContainer {
    this.step = AttachStep.CONTAINER;
    const container = group.container ?? this.plan.container ?? this.own(VfioContainer.openForAttach(), true);
    this.releases.push(acquireStep(group, 'container', () => {
      if (group.container) return undefined;
      group.setContainer(container);
      return () => {
        if (!group.closed && group.container === container) group.unsetContainer();
      };
    }));
    if (container.iommuType === undefined) container.setIommu(this.plan.iommuType);
    if (container.iommuType !== this.plan.iommuType) {
      throw usageError('ERR_VFIO_WRONG_IOMMU', container.target,
        `the group's container is ${iommuTypeName(container.iommuType!)}, but the linkage asks for ${iommuTypeName(this.plan.iommuType)}: pass options.iommu: '${container.iommuType === IommuType.SPAPR_TCE ? 'v1' : 'v2'}', or give the group a fresh container`);
    }
    return container;
  }

  registerMemory(container: VfioContainer): void {
    this.step = AttachStep.MEMORY;
    for (const memory of this.plan.memory) {
      this.releases.push(acquireStep(memory, `registered:${containerKey(container)}`, () => {
        if (container.registeredMemory.includes(memory)) return undefined;
        container.registerMemory(memory);
        const stillRegistered = () => !container.closed && !memory.closed && container.registeredMemory.includes(memory);
        return slowTeardown(
          () => { if (stillRegistered()) container.unregisterMemory(memory); },
          async () => { if (stillRegistered()) await container.unregisterMemoryAsync(memory); },
        );
      }));
    }
  }

  dmaWindow(container: VfioContainer): DmaWindow {
    this.step = AttachStep.DMA_WINDOW;
    return this.plan.iommu === 'v2' ? this.windowV2(container) : this.windowV1(container);
  }

  private windowV2(container: VfioContainer): DmaWindow {
    const { busOffset, windowSize, pageShift, levels } = this.plan;
    const covering = container.windows.find((w) => covers(w, busOffset, windowSize, pageShift));
    if (covering) {
      this.releases.push(acquireStep(container, `window:${covering.startAddr}`, () => undefined));
      return covering;
    }
    const info = container.spaprInfo();
    const shifts = info.ddw?.pageShifts ?? [12];
    const windowShift = Math.max(...shifts.filter((shift) => shift <= pageShift));
    if (!Number.isFinite(windowShift)) {
      throw usageError('ERR_VFIO_PAGE_SHIFT', container.target, `no IOMMU page size of this platform (shifts ${shifts.join(', ')}) is <= the table's page shift ${pageShift}`);
    }
    if (container.windows.length === 0 && busOffset === info.dma32WindowStart) {
      // The default 32-bit window is still pending at start 0; it would take the slot at the
      // bus offset we need. Removing it while pending only cancels it (tce_iommu_ioctl).
      this.releases.push(acquireStep(container, 'default window removed', () => {
        container.removeWindow(info.dma32WindowStart);
        return undefined;
      }));
    }
    let created: DmaWindow | undefined;
    this.releases.push(acquireStep(container, `window:${busOffset}`, () => {
      created = container.createWindow({ pageShift: windowShift, windowSize, levels });
      const window = created;
      const stillThere = () => !container.closed && container.windows.includes(window);
      return slowTeardown(
        () => { if (stillThere()) container.removeWindow(window.startAddr); },
        async () => { if (stillThere()) await container.removeWindowAsync(window.startAddr); },
      );
    }));
    const window = created ?? container.windows.find((w) => w.startAddr === busOffset)!;
    if (window.startAddr !== busOffset) {
      throw usageError('ERR_VFIO_WINDOW_PLACEMENT', container.target,
        `the platform placed the DMA window at 0x${window.startAddr.toString(16)}, but the LIOBN's window starts at 0x${busOffset.toString(16)} (use busOffset 0x${window.startAddr.toString(16)})`);
    }
    return window;
  }

  private windowV1(container: VfioContainer): DmaWindow {
    const { busOffset, windowSize, pageShift } = this.plan;
    const info = container.spaprInfo();
    const window: DmaWindow = { startAddr: info.dma32WindowStart, windowSize: info.dma32WindowSize, pageShift: 12, levels: 1 };
    if (!covers(window, busOffset, windowSize, pageShift)) {
      throw usageError('ERR_VFIO_WINDOW_MISMATCH', container.target,
        `a v1 container has only the default window (0x${window.startAddr.toString(16)}, 0x${window.windowSize.toString(16)} bytes, 4 KiB pages), which does not cover the LIOBN's window`);
    }
    this.releases.push(acquireStep(container, 'enabled', () => {
      if (container.enabled) return undefined;
      container.enable();
      return () => {
        if (!container.closed && container.enabled) container.disable();
      };
    }));
    // The first MAP_DMA or UNMAP_DMA creates the default window (tce_iommu_create_default_window).
    this.releases.push(acquireStep(container, 'default window', () => {
      container.unmapDma({ iova: window.startAddr, size: 1n << 12n });
      return undefined;
    }));
    return window;
  }

  table(): SpaprTceTable {
    this.step = AttachStep.TCE_TABLE;
    const { liobn, pageShift, busOffset, windowSize } = this.plan;
    const table = this.vm.createSpaprTceTable({ liobn, pageShift, offset: busOffset >> BigInt(pageShift), size: windowSize >> BigInt(pageShift) });
    return this.own(table, true);
  }

  addGroup(device: KvmVfioDevice, group: VfioGroup): void {
    this.step = AttachStep.ADD_GROUP;
    this.releases.push(acquireStep(device, `group:${groupKey(group)}`, () => {
      if (device.hasGroup(group)) return undefined;
      device.addGroup(group);
      return () => {
        if (!device.closed && !group.closed && device.hasGroup(group)) device.removeGroup(group);
      };
    }));
  }

  link(device: KvmVfioDevice, group: VfioGroup, table: SpaprTceTable): void {
    this.step = AttachStep.LINK;
    device.setSpaprTce(group, table);
  }
}

/** True when every group the device still has is a closed object that was linked. */
function onlyClosedLinkedGroups(device: KvmVfioDevice): boolean {
  const unlinked = new Set(device.unlinkedGroups);
  return device.groups.every((group) => group instanceof FdObject && group.closed && !unlinked.has(group));
}

const objectKeys = new WeakMap<object, number>();
let nextKey = 1;
function objectKey(object: object): number {
  let key = objectKeys.get(object);
  if (key === undefined) {
    key = nextKey++;
    objectKeys.set(object, key);
  }
  return key;
}
const containerKey = objectKey;
const groupKey = objectKey;

function covers(window: DmaWindow, busOffset: bigint, windowSize: bigint, pageShift: number): boolean {
  return window.pageShift <= pageShift && window.startAddr === busOffset && window.windowSize >= windowSize;
}

/**
 * Links a VFIO IOMMU group to a guest LIOBN so the host kernel handles the guest's TCE hypercalls
 * for it: capability checks on the VM fd → the VM's KVM-VFIO device → the group (opened, viable) →
 * container and IOMMU type → (v2) memory registration → the DMA window that matches the table
 * (v2: created; v1: the default window made to exist) → the in-kernel TCE table → add the group
 * → SET_SPAPR_TCE. On failure everything done so far is undone and the error names the step.
 *
 * @example
 * using memory = GuestMemory.allocate(256n << 20n);
 * using linkage = attachIommuGroup(vm, { group: 1, liobn: 0x80000000n, windowSize: 1n << 30n, memory });
 * console.log(linkage.table.read(0));
 */
export function attachIommuGroup(vm: Vm, options: AttachOptions): Linkage {
  if (checkInstance('vm', vm, Vm).closed) throw closedError(vm.target, 'attachIommuGroup');
  const plan = checkAttachOptions(options, 'attachIommuGroup');
  const attacher = new Attacher(vm, plan);
  try {
    attacher.checkCapabilities();
    const device = attacher.kvmVfioDevice();
    const group = attacher.group(plan.group);
    const container = attacher.container(group);
    if (plan.iommu === 'v2') attacher.registerMemory(container);
    const window = attacher.dmaWindow(container);
    const table = attacher.table();
    attacher.addGroup(device, group);
    attacher.link(device, group, table);
    return new Linkage(
      CONSTRUCTING,
      {
        liobn: plan.liobn,
        group,
        container,
        device,
        table,
        window,
        flags: { iommu: plan.iommu, memoryRegistered: plan.iommu === 'v2' && plan.memory.length > 0, legacyTable: table.legacy },
      },
      attacher.releases,
    );
  } catch (error) {
    const failures = releaseAll(attacher.releases);
    const wrapped = atStep(attacher.step, error);
    if (failures.length > 0 && wrapped instanceof Error) {
      Object.defineProperty(wrapped, 'rollbackFailures', { value: failures, enumerable: true });
    }
    throw wrapped;
  }
}

/** One check of {@link probeLinkage}. */
export interface LinkageCheck {
  /** What was checked, e.g. 'KVM_CAP_SPAPR_TCE_VFIO'. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** 'ok', or what is wrong. */
  detail: string;
}

/** What {@link probeLinkage} found. */
export interface LinkageProbe {
  /** attachIommuGroup can link this group and the kernel would handle the LIOBN's H_PUT_TCE itself. */
  possible: boolean;
  /** Why not, when not: what the VMM must fix or fall back from (handle TCE hypercalls itself). */
  missing: string[];
  /** Things that make the link work but not accelerate, e.g. unregistered guest memory. */
  warnings: string[];
  /** Every check made, passed or not. */
  checks: LinkageCheck[];
}

function groupNumberOf(spec: number | string | VfioGroup): number | undefined {
  if (spec instanceof VfioGroup) return spec.number;
  if (typeof spec === 'number') return spec;
  const match = /^\/dev\/vfio\/(\d+)$/.exec(spec);
  return match ? Number(match[1]) : undefined;
}

/**
 * A dry run of {@link attachIommuGroup}: checks the VM's capabilities, the KVM-VFIO device's
 * SET_SPAPR_TCE attribute, the group's viability (from sysfs, without opening it) and the VFIO
 * container's IOMMU type, and says exactly what is missing for in-kernel acceleration. It changes
 * nothing that lasts (a KVM-VFIO device it had to create is closed again).
 */
export function probeLinkage(vm: Vm, options: AttachOptions): LinkageProbe {
  if (checkInstance('vm', vm, Vm).closed) throw closedError(vm.target, 'probeLinkage');
  const plan = checkAttachOptions(options, 'probeLinkage');
  const checks: LinkageCheck[] = [];
  const warnings: string[] = [];
  const check = (name: string, test: () => string | true): void => {
    try {
      const outcome = test();
      checks.push({ name, ok: outcome === true, detail: outcome === true ? 'ok' : outcome });
    } catch (error) {
      checks.push({ name, ok: false, detail: error instanceof KvmVfioError ? `${error.code}: ${error.hint}` : String(error) });
    }
  };
  check('KVM_CAP_SPAPR_TCE_VFIO', () => vm.capability(Cap.SPAPR_TCE_VFIO) > 0 || 'KVM_CAP_SPAPR_TCE_VFIO is 0 on this VM: the kernel cannot link VFIO groups to TCE tables');
  check('in-kernel TCE tables', () => vm.capability(Cap.SPAPR_TCE_64) + vm.capability(Cap.SPAPR_TCE) > 0 || 'KVM_CAP_SPAPR_TCE and _64 are 0');
  check('KVM-VFIO SET_SPAPR_TCE', () => {
    const existing = vm.vfioDevice;
    const device = existing ?? vm.createVfioDevice();
    try {
      return device.supportsSpaprTce() || 'the KVM-VFIO device has no SET_SPAPR_TCE attribute (CONFIG_SPAPR_TCE_IOMMU=n)';
    } finally {
      if (!existing) device.close();
    }
  });
  const groupNumber = groupNumberOf(plan.group);
  check('group viable', () => {
    if (plan.group instanceof VfioGroup) return plan.group.status.viable || `${plan.group.target} is not viable`;
    if (groupNumber === undefined) return true;
    const blockers = devicesBlockingViability(groupNumber);
    return blockers.length === 0 || `group ${groupNumber} is not viable: ${blockers.map((d) => `${d.name} (bound to ${d.driver})`).join(', ')} not bound to vfio-pci`;
  });
  check(`VFIO ${plan.iommu} IOMMU`, () => {
    const existing = plan.group instanceof VfioGroup ? plan.group.container ?? plan.container : plan.container;
    if (existing?.iommuType !== undefined) {
      return existing.iommuType === plan.iommuType ||
        `the group's container is already ${iommuTypeName(existing.iommuType)}, but the linkage asks for ${iommuTypeName(plan.iommuType)}: attachIommuGroup would fail with ERR_VFIO_WRONG_IOMMU at step 'container'`;
    }
    const container = VfioContainer.open();
    try {
      return container.checkExtension(plan.iommuType) > 0 || `the VFIO container offers no ${plan.iommu === 'v2' ? 'SPAPR_TCE_v2' : 'SPAPR_TCE'} IOMMU`;
    } finally {
      container.close();
    }
  });
  if (plan.iommu === 'v1') {
    warnings.push('a v1 (SPAPR_TCE) container links, but the kernel maps TCEs in-kernel only for memory registered with a v2 container: every H_PUT_TCE will exit to user space');
  } else if (plan.memory.length === 0) {
    warnings.push('no guest memory given to register (options.memory): the kernel cannot map unregistered pages (H_TOO_HARD), so every H_PUT_TCE will exit to user space');
  }
  const missing = checks.filter((c) => !c.ok).map((c) => c.detail);
  return { possible: missing.length === 0, missing, warnings, checks };
}
