// A KVM device fd (KVM_CREATE_DEVICE) and its attributes.
import { DeviceType } from './constants.js';
import { syscallError } from './errors.js';
import { CONSTRUCTING, FdObject, fdOf, requireConstructing } from './handle.js';
import { native } from './native.js';
import { checkInteger, checkU32, checkU64, invalidArgType } from './validate.js';
import type { Vm } from './vm.js';

const ENXIO = 6;
const EFAULT = 14;
const NO_PAYLOAD_HINT =
  'this attribute reads a payload, and none was given (addr 0): pass the value it takes, e.g. { fd } or { u64 }';

/** A payload the kernel reads through kvm_device_attr.addr; the library owns its buffer. */
export type AttrPayload =
  | {
      /** A u64 value. */
      readonly u64: bigint | number;
    }
  | {
      /** An s32 fd: another library object's fd, or a number the caller owns. */
      readonly fd: FdObject | number;
    };

/** What setAttr writes: a u64 (bigint), a typed payload, or nothing (addr = 0). */
export type AttrValue = bigint | AttrPayload | undefined;

const kvmVfioAttrNames = new Map<string, string>([
  ['1:1', 'KVM_DEV_VFIO_GROUP_ADD'],
  ['1:2', 'KVM_DEV_VFIO_GROUP_DEL'],
  ['1:3', 'KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE'],
]);

const deviceKinds = new Map<number, string>([[DeviceType.VFIO, 'kvm-vfio']]);

/** A KVM device. It keeps its {@link Vm} alive. */
export class KvmDevice extends FdObject {
  /** The VM this device belongs to. */
  readonly vm: Vm;
  /** The KVM_DEV_TYPE_* of this device. */
  readonly type: number;

  /** @internal Devices are made by Vm.createDevice and Vm.createVfioDevice. */
  protected constructor(token: typeof CONSTRUCTING, fd: number, vm: Vm, type: number, target?: string) {
    super(token, fd, target ?? `${deviceKinds.get(type) ?? `kvm type ${type}`} device`);
    this.vm = vm;
    this.type = type;
  }

  /** @internal Used by Vm.createDevice. */
  static fromOwnedFd(token: typeof CONSTRUCTING, fd: number, vm: Vm, type: number): KvmDevice {
    requireConstructing(token, 'KvmDevice');
    return new KvmDevice(token, fd, vm, type);
  }

  /** @internal The hint qualifiers for a device type, e.g. ['kvm-vfio']. */
  static qualifiersFor(type: number): string[] {
    const kind = deviceKinds.get(type);
    return kind ? [kind] : [];
  }

  /** KVM_HAS_DEVICE_ATTR: true if the device has it, false on ENXIO; other failures throw. */
  hasAttr(group: number, attr: bigint | number): boolean {
    const fd = this.fdFor('hasAttr');
    checkU32('group', group);
    checkU64('attr', attr);
    const result = native.hasDeviceAttr(fd, group, attr);
    if (result === 0) return true;
    if (result === -ENXIO) return false;
    throw this.attrError(result, 'KVM_HAS_DEVICE_ATTR', group, attr);
  }

  /**
   * KVM_SET_DEVICE_ATTR. `value` is a u64 (bigint), `{ u64 }`, `{ fd }` (an s32 fd payload), or
   * undefined for attributes that take no payload.
   */
  setAttr(group: number, attr: bigint | number, value?: AttrValue): void {
    const fd = this.fdFor('setAttr');
    checkU32('group', group);
    checkU64('attr', attr);
    const result = this.writeAttr(fd, group, attr, value);
    if (result < 0) throw this.attrError(result, 'KVM_SET_DEVICE_ATTR', group, attr, value === undefined && result === -EFAULT ? NO_PAYLOAD_HINT : undefined);
  }

  /** KVM_GET_DEVICE_ATTR of a u64 attribute. The kernel writes into a buffer the library owns. */
  getAttr(group: number, attr: bigint | number): bigint {
    const fd = this.fdFor('getAttr');
    checkU32('group', group);
    checkU64('attr', attr);
    const result = native.getDeviceAttrU64(fd, group, attr);
    if (typeof result === 'bigint') return result;
    throw this.attrError(result, 'KVM_GET_DEVICE_ATTR', group, attr);
  }

  private writeAttr(fd: number, group: number, attr: bigint | number, value: AttrValue): number {
    if (value === undefined) return native.setDeviceAttrNone(fd, group, attr);
    if (typeof value === 'bigint') return native.setDeviceAttrU64(fd, group, attr, checkU64('value', value));
    if (value !== null && typeof value === 'object') {
      if ('u64' in value) return native.setDeviceAttrU64(fd, group, attr, checkU64('value.u64', value.u64));
      if ('fd' in value) return native.setDeviceAttrFd(fd, group, attr, payloadFd(value.fd));
    }
    throw invalidArgType('value', 'a bigint, { u64 }, { fd } or undefined', value);
  }

  /** @internal Builds the error for a failed attribute call, with the attribute's name when known. */
  protected attrError(result: number, request: string, group: number, attr: bigint | number, hint?: string): Error {
    const attrName = this.type === DeviceType.VFIO ? kvmVfioAttrNames.get(`${group}:${attr}`) : undefined;
    return syscallError(result, {
      syscall: 'ioctl',
      request,
      qualifiers: attrName ? [attrName, ...KvmDevice.qualifiersFor(this.type)] : KvmDevice.qualifiersFor(this.type),
      target: this.target,
      args: `group ${group}, attr ${attr}`,
      ...(hint === undefined ? {} : { hint }),
    });
  }
}

function payloadFd(fd: unknown): number {
  if (fd instanceof FdObject) return fdOf(fd, 'setAttr');
  return checkInteger('value.fd', fd, -1, 0x7fff_ffff);
}
