// attachIommuGroup: link a VFIO IOMMU group to a guest LIOBN in one call, in QEMU's order
// (kernel-abi.md §6), with rollback of every step on failure and a Linkage that undoes it all.
import { Cap } from './constants.js';
import {
  DmaWindowStep, DmaWindowSteps, type GroupDmaWindowOptions, type StepCaller, type WindowPlan, checkGroupSpec, checkWindowPlan, objectKey,
} from './dma-window-steps.js';
import { KvmVfioError, closedError, type Target } from './errors.js';
import { CONSTRUCTING, FdObject } from './handle.js';
import type { KvmVfioDevice } from './kvm-vfio-device.js';
import { acquireStep, slowTeardown, type Release } from './shared-steps.js';
import type { SpaprTceTable } from './spapr-tce-table.js';
import { StepwiseSetup } from './stepwise-setup.js';
import { checkBigU64, checkInstance, checkOptions } from './validate.js';
import { VfioContainer, iommuTypeName, type DmaWindow } from './vfio-container.js';
import { VfioGroup, devicesBlockingViability } from './vfio-group.js';
import { Vm } from './vm.js';

/** Options for {@link attachIommuGroup}: the window's, and the LIOBN it serves. */
export interface AttachOptions extends GroupDmaWindowOptions {
  /** The logical IO bus number the guest uses in H_PUT_TCE. */
  liobn: bigint;
}

/** The steps of attachIommuGroup, as named in errors (`error.step`). */
export const AttachStep = {
  /** Checking KVM_CAP_SPAPR_TCE_VFIO, the TCE table capabilities and KVM_CAP_DEVICE_CTRL on the VM fd. */
  CAPABILITIES: 'capabilities',
  /** Creating (or reusing) the VM's KVM-VFIO device and checking it has SET_SPAPR_TCE. */
  KVM_VFIO_DEVICE: 'kvm-vfio device',
  /** Opening the VFIO group and checking that it is viable. */
  GROUP: DmaWindowStep.GROUP,
  /** Giving the group a container and setting the container's IOMMU type. */
  CONTAINER: DmaWindowStep.CONTAINER,
  /** Registering guest memory with the v2 container. */
  MEMORY: DmaWindowStep.MEMORY,
  /** Creating the v2 DMA window, or making the v1 default window exist. */
  DMA_WINDOW: DmaWindowStep.DMA_WINDOW,
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
export class Linkage extends StepwiseSetup {
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

  /** @internal Made by attachIommuGroup. */
  constructor(token: typeof CONSTRUCTING, parts: Omit<Linkage, keyof StepwiseSetup>, releases: Release[]) {
    super(token, 'Linkage', releases);
    this.liobn = parts.liobn;
    this.group = parts.group;
    this.container = parts.container;
    this.device = parts.device;
    this.table = parts.table;
    this.window = parts.window;
    this.flags = parts.flags;
  }

  /** @internal */
  protected teardownName(): { action: string; target: Target } {
    return { action: `detaching liobn 0x${this.liobn.toString(16)}`, target: 'linkage' };
  }
}

interface Plan extends WindowPlan {
  liobn: bigint;
}

function checkAttachOptions(options: unknown, method: string): Plan & { group: number | string | VfioGroup } {
  const checked = checkOptions<AttachOptions>('options', options);
  const group = checkGroupSpec(checked.group, method);
  const liobn = checkBigU64('options.liobn', checked.liobn);
  return { group, liobn, ...checkWindowPlan(checked, method) };
}

const ATTACH: StepCaller = {
  name: 'attachIommuGroup', asker: 'the linkage', window: "the LIOBN's window", target: 'vm',
};

/** The attach, step by step: the window's steps, then the KVM ones; every step pushes how to undo it. */
class Attacher extends DmaWindowSteps {
  declare readonly plan: Plan;

  constructor(readonly vm: Vm, plan: Plan) {
    super(ATTACH, plan, AttachStep.CAPABILITIES);
  }

  checkCapabilities(): void {
    if (this.vm.capability(Cap.SPAPR_TCE_VFIO) === 0) {
      throw this.notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_SPAPR_TCE_VFIO',
        'KVM_CAP_SPAPR_TCE_VFIO is 0 on this VM: the kernel cannot link VFIO groups to TCE tables (pseries hosts from ~5.0 until the 2025 fix b4392813bbc3, or not POWER); handle TCE hypercalls in user space', this.vm.target);
    }
    if (this.vm.capability(Cap.SPAPR_TCE_64) === 0 && this.vm.capability(Cap.SPAPR_TCE) === 0) {
      throw this.notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_SPAPR_TCE', 'this kernel has no in-kernel TCE tables (KVM_CAP_SPAPR_TCE and _64 are 0)', this.vm.target);
    }
    if (this.vm.capability(Cap.DEVICE_CTRL) === 0) {
      throw this.notAvailable(AttachStep.CAPABILITIES, 'ERR_KVM_NO_DEVICE_CTRL', 'KVM_CAP_DEVICE_CTRL is 0: this kernel cannot create the KVM-VFIO device', this.vm.target);
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
      throw this.notAvailable(AttachStep.KVM_VFIO_DEVICE, 'ERR_KVM_NO_SET_SPAPR_TCE',
        'the KVM-VFIO device has no KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE attribute (kernel built without CONFIG_SPAPR_TCE_IOMMU)', this.vm.target);
    }
    return device;
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

const groupKey = objectKey;

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
    const { group, container, window } = attacher.prepareWindow(plan.group);
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
    throw attacher.rollBack(error);
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
