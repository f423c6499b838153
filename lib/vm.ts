// A VM fd.
import type { Cap, DeviceType } from './constants.js';
import { KvmDevice } from './device.js';
import { syscallError } from './errors.js';
import { CONSTRUCTING, FdObject } from './handle.js';
import type { Kvm } from './kvm.js';
import { capabilityName, checkExtensionOn } from './kvm.js';
import { native } from './native.js';
import { checkU32, checkU64, invalidArgType, outOfRange } from './validate.js';

const ENODEV = 19;

/** Up to four u64 arguments of KVM_ENABLE_CAP (kvm_enable_cap.args). */
export type EnableCapArgs = readonly (bigint | number)[];

/** A virtual machine. It keeps its {@link Kvm} alive; its devices keep it alive. */
export class Vm extends FdObject {
  /** The system object this VM was created from. */
  readonly kvm: Kvm;
  /** The KVM_CREATE_VM type. */
  readonly type: number;

  private constructor(token: typeof CONSTRUCTING, fd: number, kvm: Kvm, type: number) {
    super(token, fd, 'vm');
    this.kvm = kvm;
    this.type = type;
  }

  /** @internal Used by Kvm.createVm. */
  static fromOwnedFd(fd: number, kvm: Kvm, type: number): Vm {
    return new Vm(CONSTRUCTING, fd, kvm, type);
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
    return KvmDevice.fromOwnedFd(deviceFd, this, type);
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
