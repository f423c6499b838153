// The KVM-VFIO device (KVM_DEV_TYPE_VFIO): one per VM; it holds the VFIO groups a VM uses and
// their links to in-kernel TCE tables (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE). Kernel: virt/kvm/vfio.c.
// The kernel has no get_attr and no "unlink": links drop on GROUP_DEL, on closing the table,
// and on closing this device.
import { DeviceType, KvmVfioAttr } from './constants.js';
import { KvmDevice } from './device.js';
import { syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject, fdOf, requireConstructing } from './handle.js';
import { native } from './native.js';
import { SET_SPAPR_TCE_OWN_TABLE } from './hints.js';
import { SpaprTceTable } from './spapr-tce-table.js';
import { readFileSync } from 'node:fs';
import { checkInteger, invalidArgType } from './validate.js';
import { VfioGroup } from './vfio-group.js';
import type { Vm } from './vm.js';

const ENXIO = 6;

/** A VfioGroup, or an fd number the caller owns (e.g. received from a broker). */
export type GroupRef = VfioGroup | number;
/** A SpaprTceTable, or an fd number the caller owns. */
export type TableRef = SpaprTceTable | number;

/** The fd of a group: a VfioGroup's, or an fd number the caller owns. */
function groupFd(ref: unknown, method: string): number {
  return ref instanceof VfioGroup ? fdOf(ref, method) : fdNumber(ref, 'group', VfioGroup.name);
}

/** The fd of a table: a SpaprTceTable's, or an fd number the caller owns. */
function tableFd(ref: unknown, method: string): number {
  return ref instanceof SpaprTceTable ? fdOf(ref, method) : fdNumber(ref, 'table', SpaprTceTable.name);
}

/** An fd number; anything else, another library object included, is a TypeError. */
function fdNumber(ref: unknown, name: string, typeName: string): number {
  if (typeof ref === 'number') return checkInteger(name, ref, -1, 0x7fff_ffff);
  throw invalidArgType(name, `a ${typeName} or an fd number`, ref);
}

/** True when the kernel panics on a WARN (kernel.panic_on_warn = 1). */
function kernelPanicsOnWarn(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/panic_on_warn', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

const UNLINKED_RELEASE_WARN =
  'on POWER kernels since the 6.x kvm_vfio_file rework, removing or releasing a group that was added but never ' +
  'linked with SET_SPAPR_TCE hits WARN_ON_ONCE(!kvf->iommu_group) in virt/kvm/vfio.c (kvm_spapr_tce_release_vfio_group): ' +
  'harmless, but it taints the kernel, and panics a host that runs with panic_on_warn';
let warnedUnlinkedRelease = false;

function describe(ref: GroupRef | TableRef): string {
  return ref instanceof FdObject ? ref.target : `fd ${ref}`;
}

function warnOnce(what: string): void {
  if (warnedUnlinkedRelease) return;
  warnedUnlinkedRelease = true;
  process.emitWarning(`${what}: ${UNLINKED_RELEASE_WARN}`, { code: 'KVM_VFIO_SPAPR_KERNEL_WARN', type: 'Warning' });
}

/**
 * The VM's KVM-VFIO device. Get it with `vm.createVfioDevice()` (asking twice returns the same one).
 *
 * @example
 * const kvmVfio = vm.createVfioDevice();
 * kvmVfio.addGroup(group);
 * if (kvmVfio.supportsSpaprTce()) kvmVfio.setSpaprTce(group, table);
 */
export class KvmVfioDevice extends KvmDevice {
  readonly #groups = new Set<GroupRef>();
  /**
   * The tables each group was linked to since it was added. A group with an entry was linked at
   * least once, so the kernel knows its IOMMU group (see unlinkedGroups).
   */
  readonly #links = new Map<GroupRef, Set<TableRef>>();
  #spaprTce: boolean | undefined;

  private constructor(token: typeof CONSTRUCTING, fd: number, vm: Vm) {
    super(token, fd, vm, DeviceType.VFIO, 'kvm-vfio device');
  }

  /** @internal Used by Vm.createVfioDevice. */
  static fromOwnedVfioFd(token: typeof CONSTRUCTING, fd: number, vm: Vm): KvmVfioDevice {
    requireConstructing(token, 'KvmVfioDevice');
    return new KvmVfioDevice(token, fd, vm);
  }

  /** KVM_DEV_VFIO_GROUP_ADD (FILE_ADD): lets KVM know the VM uses this group. */
  addGroup(group: GroupRef): void {
    const fd = this.fdFor('addGroup');
    const fdOfGroup = groupFd(group, 'addGroup');
    const result = native.setDeviceAttrFd(fd, KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD, fdOfGroup);
    if (result < 0) throw this.vfioAttrError(result, KvmVfioAttr.GROUP_ADD, 'KVM_DEV_VFIO_GROUP_ADD', describe(group));
    this.#groups.add(group);
  }

  /**
   * KVM_DEV_VFIO_GROUP_DEL (FILE_DEL); also drops this group's links. Removing a group that was
   * added but never linked makes POWER 6.x kernels WARN once (virt/kvm/vfio.c
   * kvm_spapr_tce_release_vfio_group): the library warns first, and refuses with
   * ERR_KVM_KERNEL_WARN when the host runs with panic_on_warn.
   */
  removeGroup(group: GroupRef): void {
    const fd = this.fdFor('removeGroup');
    const fdOfGroup = groupFd(group, 'removeGroup');
    if (this.#groups.has(group) && !this.#links.has(group)) this.guardUnlinkedRelease('removeGroup');
    const result = native.setDeviceAttrFd(fd, KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_DEL, fdOfGroup);
    if (result < 0) throw this.vfioAttrError(result, KvmVfioAttr.GROUP_DEL, 'KVM_DEV_VFIO_GROUP_DEL', describe(group));
    this.#groups.delete(group);
    this.#links.delete(group);
  }

  /** Groups added through this object (the kernel cannot be asked). */
  get groups(): readonly GroupRef[] {
    return [...this.#groups];
  }

  /** True if this object added the group and did not remove it. */
  hasGroup(group: GroupRef): boolean {
    return this.#groups.has(group);
  }

  /**
   * KVM_HAS_DEVICE_ATTR(KVM_DEV_VFIO_GROUP, SET_SPAPR_TCE): whether this kernel can link groups to
   * in-kernel TCE tables at all (present only with CONFIG_SPAPR_TCE_IOMMU, i.e. on POWER).
   */
  supportsSpaprTce(): boolean {
    const fd = this.fdFor('supportsSpaprTce');
    const result = native.hasDeviceAttr(fd, KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_SET_SPAPR_TCE);
    if (result === 0 || result === -ENXIO) {
      this.#spaprTce = result === 0;
      return this.#spaprTce;
    }
    throw this.attrError(result, 'KVM_HAS_DEVICE_ATTR', KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_SET_SPAPR_TCE);
  }

  /**
   * KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE: links `group` to the in-kernel TCE table, so the kernel
   * programs the group's IOMMU when the guest calls H_PUT_TCE on the table's LIOBN. The group
   * must be added first (ENOENT) and its container must have a DMA window that covers the
   * table's window with an IOMMU page size no larger than the table's (EINVAL).
   */
  setSpaprTce(group: GroupRef, table: TableRef): void {
    const fd = this.fdFor('setSpaprTce');
    const fdOfGroup = groupFd(group, 'setSpaprTce');
    const fdOfTable = tableFd(table, 'setSpaprTce');
    this.refuseForeignTable(table);
    const result = native.setSpaprTce(fd, fdOfGroup, fdOfTable);
    if (result < 0) {
      const narrower = table instanceof SpaprTceTable ? [SET_SPAPR_TCE_OWN_TABLE] : [];
      throw this.vfioAttrError(result, KvmVfioAttr.GROUP_SET_SPAPR_TCE, 'KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE', `${describe(group)}, ${describe(table)}`, narrower);
    }
    const tables = this.#links.get(group);
    if (tables === undefined) this.#links.set(group, new Set([table]));
    else tables.add(table);
  }

  /**
   * The kernel links only tables of this device's VM (book3s_64_vio.c kvm_spapr_tce_attach_iommu_group
   * looks the fd up in kvm->arch.spapr_tce_tables, EINVAL otherwise); a table this library made on
   * another VM is refused before the syscall. An fd number cannot be checked: the kernel answers.
   */
  private refuseForeignTable(table: TableRef): void {
    if (!(table instanceof SpaprTceTable) || table.vm === this.vm) return;
    throw usageError('ERR_KVM_FOREIGN_TABLE', this.target,
      `setSpaprTce() refused: ${table.target} belongs to ${table.vm.target}, not to this device's ${this.vm.target}; ` +
      'the kernel links only TCE tables of the same VM (it would return EINVAL): create the table on this VM');
  }

  /** Groups added but never linked: removing them, or closing this device, makes POWER 6.x kernels WARN once. */
  get unlinkedGroups(): readonly GroupRef[] {
    return [...this.#groups].filter((group) => !this.#links.has(group));
  }

  protected override beforeClose(): void {
    if (this.unlinkedGroups.length > 0 && this.releaseWarns()) warnOnce('closing the KVM-VFIO device releases groups that were never linked');
  }

  /** Whether releasing an unlinked group WARNs here: only kernels with SET_SPAPR_TCE (POWER). */
  private releaseWarns(): boolean {
    return this.#spaprTce ?? process.arch === 'ppc64';
  }

  private guardUnlinkedRelease(method: string): void {
    if (!this.releaseWarns()) return;
    if (kernelPanicsOnWarn()) {
      throw usageError('ERR_KVM_KERNEL_WARN', this.target,
        `${method}() of a group that was never linked refused: ${UNLINKED_RELEASE_WARN}, and this host has panic_on_warn=1`);
    }
    warnOnce(`${method}() of a group that was never linked`);
  }

  /** The tables linked to `group` through this object (closed tables are no longer linked). */
  linkedTables(group: GroupRef): readonly TableRef[] {
    return [...(this.#links.get(group) ?? [])].filter((table) => !(table instanceof FdObject && table.closed));
  }

  private vfioAttrError(result: number, attr: number, attrName: string, what: string, narrower: readonly string[] = []): Error {
    return syscallError(result, {
      syscall: 'ioctl',
      request: 'KVM_SET_DEVICE_ATTR',
      qualifiers: [...narrower, attrName, 'kvm-vfio'],
      target: this.target,
      args: `group ${KvmVfioAttr.GROUP}, attr ${attr}: ${what}`,
    });
  }
}
