// The steps attachIommuGroup and prepareDmaWindow share, in QEMU's order (kernel-abi.md §6): the
// VFIO group (opened, viable) → its container and IOMMU type → (v2) guest memory registered → the
// DMA window. Every step pushes how to undo it; a failure undoes them all and names the step.
import { IommuType } from './constants.js';
import { KvmVfioError, type Target, closedError, usageError } from './errors.js';
import { type GuestMemory, checkMemory } from './guest-memory.js';
import type { FdObject } from './handle.js';
import { type Release, acquireStep, releaseAll, slowTeardown } from './shared-steps.js';
import { checkBigU64, checkInstance, checkInteger, invalidArgType, invalidArgValue } from './validate.js';
import { VfioContainer, iommuTypeName, type DmaWindow } from './vfio-container.js';
import { VfioGroup, devicesBlockingViability, groupDevicePath } from './vfio-group.js';

/** Options for {@link prepareDmaWindow}; {@link attachIommuGroup} takes these and a LIOBN. */
export interface GroupDmaWindowOptions {
  /** The group: its number (/dev/vfio/N), a path, or an open VfioGroup (the caller keeps owning it). */
  group: number | string | VfioGroup;
  /**
   * Size of the DMA window in bytes. v2 creates a window this size; on the emulated pseries
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
   * it the kernel cannot map the guest's TCEs itself and every H_PUT_TCE exits to user space; a
   * VMM that maps TCEs through the container itself (VFIO_IOMMU_MAP_DMA) needs it registered too.
   */
  memory?: GuestMemory | readonly GuestMemory[];
  /** A container to use when the group has none yet (default: a new one, owned by the result). */
  container?: VfioContainer;
  /** TCE table levels of the v2 DMA window. Default 1. */
  levels?: number;
}

/** The steps of {@link prepareDmaWindow}, as named in errors (`error.step`); {@link AttachStep} has them too. */
export const DmaWindowStep = {
  /** Opening the VFIO group and checking that it is viable. */
  GROUP: 'group',
  /** Giving the group a container and setting the container's IOMMU type. */
  CONTAINER: 'container',
  /** Registering guest memory with the v2 container. */
  MEMORY: 'memory registration',
  /** Creating the v2 DMA window, or making the v1 default window exist. */
  DMA_WINDOW: 'DMA window',
} as const;
/** A step of {@link prepareDmaWindow}. */
export type DmaWindowStep = (typeof DmaWindowStep)[keyof typeof DmaWindowStep];

/** The window options, checked: what the steps do. */
export interface WindowPlan {
  windowSize: bigint;
  pageShift: number;
  busOffset: bigint;
  iommuType: number;
  iommu: 'v2' | 'v1';
  memory: GuestMemory[];
  container: VfioContainer | undefined;
  levels: number;
}

/** options.group: a number or path (checked, not opened) or an open VfioGroup. */
export function checkGroupSpec(group: unknown, method: string): number | string | VfioGroup {
  if (group instanceof VfioGroup) {
    if (group.closed) throw closedError(group.target, method);
  } else if (typeof group === 'number' || typeof group === 'string') {
    groupDevicePath('options.group', group);
  } else {
    throw invalidArgType('options.group', 'a group number, a path or a VfioGroup', group);
  }
  return group;
}

/** Every window option but the group, checked before any syscall. */
export function checkWindowPlan(options: Partial<GroupDmaWindowOptions>, method: string): WindowPlan {
  const { windowSize, pageShift = 12, busOffset = 0n, iommu = 'v2', memory, container, levels = 1 } = options;
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
    windowSize: windowSize!,
    pageShift,
    busOffset,
    iommu,
    iommuType: iommu === 'v2' ? IommuType.SPAPR_TCE_V2 : IommuType.SPAPR_TCE,
    memory: memories,
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

/** Who runs the steps, as their errors say it. */
export interface StepCaller {
  /** The public function, named first in every step error's message. */
  readonly name: string;
  /** Who asks for the IOMMU type in ERR_VFIO_WRONG_IOMMU, e.g. 'the linkage'. */
  readonly asker: string;
  /** The target of failures the library decides itself; default: the object that failed the check. */
  readonly target?: Target;
  /** What the asked-for window is called in window errors, e.g. "the LIOBN's window". */
  readonly window: string;
}

/** The group and container steps of one call; `releases` holds how to undo each, in order. */
export class DmaWindowSteps {
  readonly releases: Release[] = [];

  constructor(readonly caller: StepCaller, readonly plan: WindowPlan, public step: string) {}

  /** Runs a step that is undone by closing what it opened. */
  own<T extends FdObject>(object: T, opened: boolean): T {
    if (opened) this.releases.push(slowTeardown(() => object.close(), () => object.closeAsync()));
    return object;
  }

  /** A failure the library decides at `step`, not a syscall's. */
  notAvailable(step: string, code: string, hint: string, target: Target): KvmVfioError {
    return new KvmVfioError(`${this.caller.name} failed at step '${step}': ${hint}`, { code, target: this.caller.target ?? target, hint, step });
  }

  /** Undoes every step done so far and returns `error` naming the step that failed. */
  rollBack(error: unknown): unknown {
    const failures = releaseAll(this.releases);
    const wrapped = this.atStep(error);
    if (failures.length > 0 && wrapped instanceof Error) {
      Object.defineProperty(wrapped, 'rollbackFailures', { value: failures, enumerable: true });
    }
    return wrapped;
  }

  private atStep(error: unknown): unknown {
    if (!(error instanceof KvmVfioError) || error.step !== undefined) return error;
    return new KvmVfioError(`${this.caller.name} failed at step '${this.step}': ${error.message}`, {
      code: error.code,
      errno: error.errno,
      syscall: error.syscall,
      request: error.request,
      target: error.target,
      hint: error.hint,
      source: error.source,
      step: this.step,
    }, { cause: error });
  }

  /** The four steps: group, container, (v2) memory registration, DMA window. */
  prepareWindow(spec: number | string | VfioGroup): { group: VfioGroup; container: VfioContainer; window: DmaWindow } {
    const group = this.group(spec);
    const container = this.container(group);
    if (this.plan.iommu === 'v2') this.registerMemory(container);
    const window = this.dmaWindow(container);
    return { group, container, window };
  }

  group(spec: number | string | VfioGroup): VfioGroup {
    this.step = DmaWindowStep.GROUP;
    const opened = !(spec instanceof VfioGroup);
    const group = spec instanceof VfioGroup ? spec : this.own(VfioGroup.open(spec), true);
    // A group opened just now was read at open; asking again would be a second GET_STATUS.
    const status = opened ? group.statusAtOpen : group.status;
    if (!status.viable) {
      const blockers = group.number === undefined ? [] : devicesBlockingViability(group.number);
      const named = blockers.map((d) => `${d.name} (bound to ${d.driver})`).join(', ');
      throw this.notAvailable(DmaWindowStep.GROUP, 'ERR_VFIO_GROUP_NOT_VIABLE',
        `${group.target} is not viable${named ? `: ${named} not bound to vfio-pci` : ''}; bind every device of the group to vfio-pci`, group.target);
    }
    return group;
  }

  container(group: VfioGroup): VfioContainer {
    this.step = DmaWindowStep.CONTAINER;
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
        `the group's container is ${iommuTypeName(container.iommuType!)}, but ${this.caller.asker} asks for ${iommuTypeName(this.plan.iommuType)}: pass options.iommu: '${container.iommuType === IommuType.SPAPR_TCE ? 'v1' : 'v2'}', or give the group a fresh container`);
    }
    return container;
  }

  registerMemory(container: VfioContainer): void {
    this.step = DmaWindowStep.MEMORY;
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
    this.step = DmaWindowStep.DMA_WINDOW;
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
        `the platform placed the DMA window at 0x${window.startAddr.toString(16)}, but ${this.caller.window} starts at 0x${busOffset.toString(16)} (use busOffset 0x${window.startAddr.toString(16)})`);
    }
    return window;
  }

  private windowV1(container: VfioContainer): DmaWindow {
    const { busOffset, windowSize, pageShift } = this.plan;
    const info = container.spaprInfo();
    const window: DmaWindow = { startAddr: info.dma32WindowStart, windowSize: info.dma32WindowSize, pageShift: 12, levels: 1 };
    if (!covers(window, busOffset, windowSize, pageShift)) {
      throw usageError('ERR_VFIO_WINDOW_MISMATCH', container.target,
        `a v1 container has only the default window (0x${window.startAddr.toString(16)}, 0x${window.windowSize.toString(16)} bytes, 4 KiB pages), which does not cover ${this.caller.window}`);
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
}

const objectKeys = new WeakMap<object, number>();
let nextKey = 1;
/** A number per object, for step keys that must tell objects apart. */
export function objectKey(object: object): number {
  let key = objectKeys.get(object);
  if (key === undefined) {
    key = nextKey++;
    objectKeys.set(object, key);
  }
  return key;
}
const containerKey = objectKey;

function covers(window: DmaWindow, busOffset: bigint, windowSize: bigint, pageShift: number): boolean {
  return window.pageShift <= pageShift && window.startAddr === busOffset && window.windowSize >= windowSize;
}
