// /dev/kvm: the KVM system object.
import { Cap, KVM_API_VERSION, VmType } from './constants.js';
import { syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject } from './handle.js';
import { native } from './native.js';
import { checkInteger, checkOptions, checkString, checkU32 } from './validate.js';
import { Vm } from './vm.js';

const capNames = new Map<number, string>(Object.entries(Cap).map(([name, value]) => [value, `KVM_CAP_${name}`]));

/** 'KVM_CAP_SPAPR_TCE_VFIO' for 142, or the number for caps this library has no name for. */
export function capabilityName(cap: number): string {
  checkU32('cap', cap);
  return capNames.get(cap) ?? String(cap);
}

/** KVM_CHECK_EXTENSION on a system or VM fd; shared by Kvm and Vm. */
export function checkExtensionOn(fd: number, cap: unknown, target: string): number {
  checkU32('cap', cap);
  const result = native.checkExtension(fd, cap as number);
  if (result < 0) {
    throw syscallError(result, { syscall: 'ioctl', request: 'KVM_CHECK_EXTENSION', target, args: capabilityName(cap as number) });
  }
  return result;
}

/** Options for {@link Kvm.createVm}. */
export interface CreateVmOptions {
  /** The machine type; on POWER DEFAULT (0) picks HV when kvm-hv is loaded. */
  type?: VmType | number;
}

/**
 * The KVM system device.
 *
 * @example
 * using kvm = Kvm.open();
 * if (kvm.checkExtension(Cap.SPAPR_TCE_VFIO)) { ... }
 * using vm = kvm.createVm();
 */
export class Kvm extends FdObject {
  /** The path this was opened from, or 'fd N' for {@link Kvm.fromFd}. */
  readonly path: string;
  /** KVM_GET_API_VERSION: always 12 once open() succeeded. */
  readonly apiVersion: number;
  readonly #vcpuMmapSize: number;

  private constructor(token: typeof CONSTRUCTING, fd: number, path: string, apiVersion: number, vcpuMmapSize: number) {
    super(token, fd, 'kvm system');
    this.path = path;
    this.apiVersion = apiVersion;
    this.#vcpuMmapSize = vcpuMmapSize;
  }

  /** Opens /dev/kvm (O_RDWR | O_CLOEXEC) and checks that it speaks KVM API 12. */
  static open(path: string = '/dev/kvm'): Kvm {
    checkString('path', path);
    const fd = native.openDevice(path);
    if (fd < 0) {
      throw syscallError(fd, { syscall: 'open', request: 'open', qualifiers: ['kvm'], target: 'kvm system', args: `'${path}'` });
    }
    return Kvm.fromOwnedFd(fd, path);
  }

  /**
   * Wraps a /dev/kvm fd received from elsewhere (e.g. a privileged broker over SCM_RIGHTS). The
   * library owns a CLOEXEC duplicate; the caller keeps and closes its own fd.
   */
  static fromFd(fd: number): Kvm {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    const owned = native.duplicateFd(fd);
    if (owned < 0) {
      throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}`, args: `${fd}, F_DUPFD_CLOEXEC` });
    }
    return Kvm.fromOwnedFd(owned, `fd ${fd}`);
  }

  private static fromOwnedFd(fd: number, path: string): Kvm {
    const version = native.getApiVersion(fd);
    if (version === KVM_API_VERSION) {
      // Asked here, once: VMs need it for their vCPUs' kvm_run mappings even after this object is
      // closed (KVM_GET_VCPU_MMAP_SIZE exists only on /dev/kvm; virt/kvm/kvm_main.c kvm_dev_ioctl).
      const mmapSize = native.getVcpuMmapSize(fd);
      if (mmapSize >= 0) return new Kvm(CONSTRUCTING, fd, path, version, mmapSize);
      native.closeFd(fd);
      throw syscallError(mmapSize, { syscall: 'ioctl', request: 'KVM_GET_VCPU_MMAP_SIZE', target: 'kvm system' });
    }
    native.closeFd(fd);
    const target = 'kvm system';
    if (version < 0) throw syscallError(version, { syscall: 'ioctl', request: 'KVM_GET_API_VERSION', target });
    throw usageError('ERR_KVM_API_VERSION', target, `KVM_GET_API_VERSION returned ${version}; this library speaks KVM API ${KVM_API_VERSION}`);
  }

  /** KVM_CHECK_EXTENSION on /dev/kvm: 0 when absent, otherwise a capability-specific value. */
  checkExtension(cap: Cap | number): number {
    return checkExtensionOn(this.fdFor('checkExtension'), cap, this.target);
  }

  /** KVM_CREATE_VM. The VM keeps this object alive. */
  createVm(options?: CreateVmOptions): Vm {
    const fd = this.fdFor('createVm');
    const { type = VmType.DEFAULT } = checkOptions<CreateVmOptions>('options', options);
    checkU32('options.type', type);
    const vmFd = native.createVm(fd, type);
    if (vmFd < 0) throw syscallError(vmFd, { syscall: 'ioctl', request: 'KVM_CREATE_VM', target: this.target, args: `type ${type}` });
    return Vm.fromOwnedFd(CONSTRUCTING, vmFd, this, type);
  }

  /** KVM_GET_VCPU_MMAP_SIZE: the size of each vCPU's kvm_run mapping (asked once, at open). */
  vcpuMmapSize(): number {
    this.fdFor('vcpuMmapSize');
    return this.#vcpuMmapSize;
  }

  /** @internal The same, for this object's VMs, which outlive it. */
  static vcpuMmapSizeOf(kvm: Kvm): number {
    return kvm.#vcpuMmapSize;
  }
}
