// The library's one error class, and the builders that turn a -errno into it.
import { lookupHint } from './hints.js';
import { native } from './native.js';
import { checkInteger } from './validate.js';

/** Which object a call was made on, e.g. 'vm', 'kvm-vfio device', 'vfio group 2'. */
export type Target = string;

/** The fields of a failed call, as carried by {@link KvmVfioError}. */
export interface KvmVfioErrorFields {
  /** The errno name ('EINVAL'), or an 'ERR_KVM_*' code for failures that are not a syscall's. */
  code: string;
  /** The errno as a negative number, as in Node's own system errors (`util.getSystemErrorName(errno)`). */
  errno?: number | undefined;
  /** The syscall: 'ioctl', 'open', 'mmap', 'fcntl'. */
  syscall?: string | undefined;
  /** The request: an ioctl name such as 'KVM_SET_DEVICE_ATTR', or the syscall name. */
  request?: string | undefined;
  /** The object the call was made on. */
  target?: Target | undefined;
  /** What this errno means for this call. */
  hint: string;
  /** The kernel source that returns this errno for this call, when known. */
  source?: string | undefined;
  /** For multi-step operations (attachIommuGroup): the step that failed. */
  step?: string | undefined;
}

/**
 * Every failure of a kernel call made by this library, and every call on a closed object. Its
 * fields are shaped like Node's own system errors, plus `request`, `target`, `hint`, `source` and `step`.
 *
 * @example
 * try { device.addGroup(group) } catch (error) {
 *   if (error instanceof KvmVfioError && error.code === 'EEXIST') { /* already added *\/ }
 * }
 */
export class KvmVfioError extends Error {
  /**
   * How many stack frames errors from failed calls capture; undefined (the default) follows
   * Error.stackTraceLimit. Capturing frames right after a syscall is the dominant cost of the error
   * path (each frame touches memory the kernel entry/exit made cold): set 0 where failures are
   * expected in a hot loop and the stack is not needed.
   */
  static stackFrames: number | undefined = undefined;

  /** The errno name ('EINVAL'), or an 'ERR_KVM_*' / 'ERR_VFIO_*' code for failures the library decides itself (e.g. 'ERR_KVM_CLOSED'). */
  declare readonly code: string;
  /** The errno as a negative number, as in Node's own system errors (`util.getSystemErrorName(error.errno)`); undefined when no syscall failed. */
  declare readonly errno: number | undefined;
  /** The failed syscall: 'ioctl', 'open', 'mmap', 'pread', 'pwrite'. */
  declare readonly syscall: string | undefined;
  /** The request: an ioctl name such as 'KVM_SET_DEVICE_ATTR', or the syscall name. */
  declare readonly request: string | undefined;
  /** The object the call was made on, e.g. 'vm', 'kvm-vfio device', 'vfio group 2'. */
  declare readonly target: Target | undefined;
  /** What this errno means for this call (from the hint table), or why the library refused the call. */
  declare readonly hint: string;
  /** The kernel source that returns this errno for this call, when known, e.g. 'virt/kvm/vfio.c (kvm_vfio_file_set_spapr_tce)'. */
  declare readonly source: string | undefined;
  /** For {@link attachIommuGroup}: the {@link AttachStep} that failed (everything before it was rolled back). */
  declare readonly step: string | undefined;

  constructor(message: string, fields: KvmVfioErrorFields, options?: { cause?: unknown }) {
    if (options === undefined) super(message);
    else super(message, options);
    this.code = fields.code;
    this.errno = fields.errno;
    this.syscall = fields.syscall;
    this.request = fields.request;
    this.target = fields.target;
    this.hint = fields.hint;
    this.source = fields.source;
    this.step = fields.step;
  }
}
Object.defineProperty(KvmVfioError.prototype, 'name', { value: 'KvmVfioError', enumerable: false });

const stackTraceLimitWritable = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/** Constructs with KvmVfioError.stackFrames in force. */
function newError(message: string, fields: KvmVfioErrorFields): KvmVfioError {
  const limit = KvmVfioError.stackFrames;
  if (limit === undefined || !stackTraceLimitWritable) return new KvmVfioError(message, fields);
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = limit;
  const error = new KvmVfioError(message, fields);
  Error.stackTraceLimit = saved;
  return error;
}

const MAX_ERRNO = 4095;

/** The Linux name of a positive errno on this architecture ('EINVAL'). */
export function errnoName(errno: number): string {
  checkInteger('errno', errno, 0, MAX_ERRNO);
  return nameOfErrno(errno);
}

function nameOfErrno(errno: number): string {
  return native.errnoNames[errno] ?? `E${errno}`;
}

const NO_QUALIFIERS: readonly string[] = [];

/** Describes one failing syscall for {@link syscallError}. */
export interface FailedCall {
  syscall: string;
  request: string;
  /** Narrow the hint lookup, most specific first: attribute name, object kind. */
  qualifiers?: readonly string[];
  target: Target;
  /** The call's arguments as a reader would write them, e.g. 'group 1, attr 3'. */
  args?: string;
  /** A hint computed for this failure (e.g. naming the devices that block a group), instead of the table's. */
  hint?: string;
}

/** Builds the error for a syscall that returned `result` (a negative errno). */
export function syscallError(result: number, call: FailedCall): KvmVfioError {
  const errno = -result;
  const code = nameOfErrno(errno);
  const row = lookupHint(call.request, call.qualifiers ?? NO_QUALIFIERS, code);
  const hint = call.hint ?? row?.hint ?? `the kernel returned ${code} (${native.errnoDescriptions[errno] ?? 'unknown error'}); no specific explanation is known for this call`;
  const args = call.args === undefined ? '' : `(${call.args})`;
  return newError(`${call.request}${args} on ${call.target} failed: ${code} — ${hint}`, {
    code,
    errno: result,
    syscall: call.syscall,
    request: call.request,
    target: call.target,
    hint,
    source: row?.source,
  });
}

/** A call on an object after close(): refused without any syscall. */
export function closedError(target: Target, method: string): KvmVfioError {
  const hint = `${method}() was called after close(); the fd was not used (its number may already belong to another file)`;
  return newError(`${target} is closed: ${hint}`, { code: 'ERR_KVM_CLOSED', target, hint });
}

/** A failure decided by the library itself (wrong object state, API mismatch), not by a syscall. */
export function usageError(code: string, target: Target, hint: string): KvmVfioError {
  return newError(`${target}: ${hint}`, { code, target, hint });
}

/** Returns `result` when it is not an error, otherwise throws the ioctl's KvmVfioError. */
export function checkIoctl(result: number, request: string, target: Target, args?: string, qualifiers?: readonly string[]): number {
  if (result >= 0) return result;
  throw syscallError(result, { syscall: 'ioctl', request, target, ...(args === undefined ? {} : { args }), ...(qualifiers ? { qualifiers } : {}) });
}
