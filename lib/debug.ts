// Debug switch: record the syscalls the native layer issues. Used by tests (a closed object
// issues none), by the fuzzer, and by the setup-cost benchmark (attach vs the minimal sequence).
import { native } from './native.js';

/** One recorded syscall: 'ioctl' with its request name, or 'open', 'close', 'mmap', 'munmap', 'dup'. */
export interface SyscallRecord {
  /** The syscall. */
  syscall: 'ioctl' | 'open' | 'close' | 'mmap' | 'munmap' | 'dup';
  /** For ioctls: the request name ('KVM_SET_DEVICE_ATTR'), or its number in hex when unknown. */
  request?: string;
}

const SYSCALLS: Record<number, SyscallRecord['syscall']> = { 1: 'ioctl', 2: 'open', 3: 'close', 4: 'mmap', 5: 'munmap', 6: 'dup' };

let requestNames: Map<number, string> | undefined;
function requestName(number: number): string {
  requestNames ??= new Map(Object.entries(native.requests).map(([name, value]) => [value, name]));
  return requestNames.get(number) ?? `0x${number.toString(16)}`;
}

function decode(entries: number[]): SyscallRecord[] {
  const records: SyscallRecord[] = [];
  for (let i = 0; i + 1 < entries.length; i += 2) {
    const syscall = SYSCALLS[entries[i]!] ?? 'ioctl';
    records.push(syscall === 'ioctl' ? { syscall, request: requestName(entries[i + 1]!) } : { syscall });
  }
  return records;
}

/**
 * Runs `fn` with syscall tracing on and returns its result (or the error it threw) with the
 * syscalls the library issued meanwhile, from every thread of the process.
 *
 * @example
 * const { syscalls } = traceSyscalls(() => attachIommuGroup(vm, options));
 */
export function traceSyscalls<T>(fn: () => T): {
  /** What `fn` returned (absent when it threw). */
  result?: T;
  /** What `fn` threw (absent when it returned). */
  error?: unknown;
  /** The syscalls issued while `fn` ran, in order. */
  syscalls: SyscallRecord[];
} {
  native.takeSyscallTrace();
  native.setSyscallTrace(true);
  try {
    return { result: fn(), syscalls: decode(native.takeSyscallTrace()) };
  } catch (error) {
    return { error, syscalls: decode(native.takeSyscallTrace()) };
  } finally {
    native.setSyscallTrace(false);
  }
}
