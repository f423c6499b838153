// /dev/vfio/N: a VFIO IOMMU group. Kernel: drivers/vfio/group.c.
import { readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { checkIoctl, syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject, fdOf } from './handle.js';
import { native } from './native.js';
import { checkInstance, checkInteger, checkString, invalidArgType, invalidArgValue } from './validate.js';
import { VfioContainer } from './vfio-container.js';
import { VfioDevice } from './vfio-device.js';

const VFIO_GROUP_FLAGS_VIABLE = 1;
const VFIO_GROUP_FLAGS_CONTAINER_SET = 2;
const EPERM = 1;
/** The longest device name the native layer passes (sysfs PCI names are 12 bytes). */
const MAX_DEVICE_NAME = 62;

/** VFIO_GROUP_GET_STATUS, decoded. */
export interface VfioGroupStatus {
  /** Every device in the group is bound to vfio-pci (or unbound). */
  viable: boolean;
  /** The group is attached to a container. */
  containerSet: boolean;
}

/** A device of an IOMMU group as sysfs lists it. */
export interface IommuGroupDevice {
  /** The sysfs name, e.g. '0001:00:00.0'. */
  name: string;
  /** The bound driver, or undefined. */
  driver: string | undefined;
}

/** The devices of IOMMU group `group` (/sys/kernel/iommu_groups/N/devices) with their drivers. */
export function iommuGroupDevices(group: number, sysfs = '/sys'): IommuGroupDevice[] {
  checkInteger('group', group, 0, 0x7fff_ffff);
  checkString('sysfs', sysfs);
  const dir = `${sysfs}/kernel/iommu_groups/${group}/devices`;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    try {
      return { name, driver: basename(readlinkSync(`${dir}/${name}/driver`)) };
    } catch {
      return { name, driver: undefined };
    }
  });
}

/** The devices that keep the group from being viable: bound to a driver other than vfio-pci. */
export function devicesBlockingViability(group: number, sysfs = '/sys'): IommuGroupDevice[] {
  return iommuGroupDevices(group, sysfs).filter((device) => device.driver !== undefined && device.driver !== 'vfio-pci');
}

function decodeStatus(flags: number): VfioGroupStatus {
  return { viable: (flags & VFIO_GROUP_FLAGS_VIABLE) !== 0, containerSet: (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0 };
}

function describeBlockers(group: number | undefined): string {
  if (group === undefined) return 'the group is not viable';
  const blockers = devicesBlockingViability(group);
  if (blockers.length === 0) return `group ${group} is not viable (see /sys/kernel/iommu_groups/${group}/devices)`;
  const list = blockers.map((device) => `${device.name} (bound to ${device.driver})`).join(', ');
  return `group ${group} is not viable: ${list} ${blockers.length === 1 ? 'is' : 'are'} not bound to vfio-pci (unbind ${blockers.length === 1 ? 'it' : 'them'} or bind to vfio-pci)`;
}

/**
 * @internal The device node of a group given as a number (/dev/vfio/N) or a path; throws
 * TypeError / RangeError for anything else, before any syscall.
 */
export function groupDevicePath(name: string, group: unknown): { path: string; groupNumber: number | undefined } {
  if (typeof group === 'number') {
    const groupNumber = checkInteger(name, group, 0, 0x7fff_ffff);
    return { path: `/dev/vfio/${groupNumber}`, groupNumber };
  }
  if (typeof group === 'string') {
    const path = checkString(name, group);
    const match = /^\/dev\/vfio\/(\d+)$/.exec(path);
    return { path, groupNumber: match ? Number(match[1]) : undefined };
  }
  throw invalidArgType(name, 'a group number or a path', group);
}

/**
 * A VFIO group.
 *
 * @example
 * using group = VfioGroup.open(1);
 * if (!group.status.viable) throw new Error('bind every device of group 1 to vfio-pci');
 */
export class VfioGroup extends FdObject {
  /** The IOMMU group number, when known. */
  readonly number: number | undefined;
  /** @internal VFIO_GROUP_GET_STATUS as read when the group was opened (open validates with it). */
  readonly statusAtOpen: VfioGroupStatus;
  #container: VfioContainer | undefined;

  private constructor(token: typeof CONSTRUCTING, fd: number, groupNumber: number | undefined, flags: number) {
    super(token, fd, groupNumber === undefined ? 'vfio group' : `vfio group ${groupNumber}`);
    this.number = groupNumber;
    this.statusAtOpen = decodeStatus(flags);
  }

  /** Opens /dev/vfio/N (a group number) or a path (O_RDWR | O_CLOEXEC). A group opens only once. */
  static open(group: number | string): VfioGroup {
    const { path, groupNumber } = groupDevicePath('group', group);
    const fd = native.openDevice(path);
    const target = groupNumber === undefined ? 'vfio group' : `vfio group ${groupNumber}`;
    if (fd < 0) throw syscallError(fd, { syscall: 'open', request: 'open', qualifiers: ['vfio group'], target, args: `'${path}'` });
    return VfioGroup.fromOwnedFd(fd, groupNumber);
  }

  /** Wraps a group fd received from elsewhere (the library owns a CLOEXEC duplicate). */
  static fromFd(fd: number, groupNumber?: number): VfioGroup {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    if (groupNumber !== undefined) checkInteger('groupNumber', groupNumber, 0, 0x7fff_ffff);
    const owned = native.duplicateFd(fd);
    if (owned < 0) throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}`, args: `${fd}, F_DUPFD_CLOEXEC` });
    return VfioGroup.fromOwnedFd(owned, groupNumber);
  }

  private static fromOwnedFd(fd: number, groupNumber: number | undefined): VfioGroup {
    const status = native.vfioGroupGetStatus(fd);
    if (status >= 0) return new VfioGroup(CONSTRUCTING, fd, groupNumber, status);
    native.closeFd(fd);
    throw syscallError(status, { syscall: 'ioctl', request: 'VFIO_GROUP_GET_STATUS', target: groupNumber === undefined ? 'vfio group' : `vfio group ${groupNumber}` });
  }

  /** VFIO_GROUP_GET_STATUS (asked each time). */
  get status(): VfioGroupStatus {
    return decodeStatus(checkIoctl(native.vfioGroupGetStatus(this.fdFor('status')), 'VFIO_GROUP_GET_STATUS', this.target));
  }

  /** The devices of this group in sysfs, with their drivers. */
  devices(): IommuGroupDevice[] {
    this.fdFor('devices');
    return this.number === undefined ? [] : iommuGroupDevices(this.number);
  }

  /** The container set with setContainer(), if any. */
  get container(): VfioContainer | undefined {
    return this.#container;
  }

  /** VFIO_GROUP_SET_CONTAINER. EPERM means the group is not viable; the hint names the devices. */
  setContainer(container: VfioContainer): void {
    const fd = this.fdFor('setContainer');
    this.checkContainer(container);
    const result = native.vfioGroupSetContainer(fd, fdOf(container, 'setContainer'));
    this.recordContainer(result, container);
  }

  /** setContainer off the main thread (attaching takes IOMMU ownership, which can be slow). */
  async setContainerAsync(container: VfioContainer): Promise<void> {
    const fd = this.fdFor('setContainerAsync');
    this.checkContainer(container);
    const result = await native.vfioGroupSetContainerAsync(fd, fdOf(container, 'setContainerAsync'));
    this.recordContainer(result, container);
  }

  /** VFIO_GROUP_UNSET_CONTAINER. */
  unsetContainer(): void {
    const fd = this.fdFor('unsetContainer');
    checkIoctl(native.vfioGroupUnsetContainer(fd), 'VFIO_GROUP_UNSET_CONTAINER', this.target);
    this.#container?.groupDetached(this);
    this.#container = undefined;
  }

  /** VFIO_GROUP_GET_DEVICE_FD for a device of this group, by its sysfs name ('0001:00:00.0'). */
  getDeviceFd(name: string): VfioDevice {
    const fd = this.fdFor('getDeviceFd');
    checkString('name', name);
    if (Buffer.byteLength(name) > MAX_DEVICE_NAME) throw invalidArgValue('name', name, `must be a device name of at most ${MAX_DEVICE_NAME} bytes`);
    const deviceFd = native.vfioGroupGetDeviceFd(fd, name);
    checkIoctl(deviceFd, 'VFIO_GROUP_GET_DEVICE_FD', this.target, `'${name}'`);
    return VfioDevice.fromOwnedFd(CONSTRUCTING, deviceFd, this, name);
  }

  protected override beforeClose(): void {
    this.#container?.attachedGroups.delete(this);
  }

  private checkContainer(container: unknown): void {
    checkInstance('container', container, VfioContainer);
    if (this.#container !== undefined) throw usageError('ERR_VFIO_CONTAINER_SET', this.target, 'this group already has a container (unsetContainer first)');
  }

  private recordContainer(result: number, container: VfioContainer): void {
    if (result < 0) {
      const hint = result === -EPERM ? `${describeBlockers(this.number)}; the kernel refuses a group that is not viable` : undefined;
      throw syscallError(result, { syscall: 'ioctl', request: 'VFIO_GROUP_SET_CONTAINER', target: this.target, ...(hint ? { hint } : {}) });
    }
    this.#container = container;
    container.attachedGroups.add(this);
  }
}
