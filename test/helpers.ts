import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { expect } from 'vitest';
import { KvmVfioError } from '../dist/index.js';

/** Runs `fn`, expects it to throw a KvmVfioError and returns it. */
export function caught(fn: () => unknown): KvmVfioError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KvmVfioError);
    return error as KvmVfioError;
  }
  throw new Error('expected a throw');
}

function stillOpen(fd: string): boolean {
  try {
    readlinkSync(`/proc/self/fd/${fd}`);
    return true;
  } catch {
    return false; // the directory fd readdirSync itself used, closed by now
  }
}

/** The fds open in this process now. */
export function openFds(): Set<number> {
  return new Set(readdirSync('/proc/self/fd').filter(stillOpen).map(Number));
}

/** Fds opened since `before`. */
export function newFds(before: Set<number>): number[] {
  return [...openFds()].filter((fd) => !before.has(fd));
}

/** The open flags of an fd, from /proc/self/fdinfo (octal in the file). */
export function fdFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
  return Number.parseInt(line!.split(/\s+/)[1]!, 8);
}

export const O_CLOEXEC = 0o2000000;

/** Runs `fn` with the native syscall trace on; returns what it recorded (kind, request pairs). */
export async function tracingSyscalls<T>(fn: () => T): Promise<{ result: T | undefined; error: unknown; syscalls: number }> {
  const { native } = await import('../dist/native.js');
  native.takeSyscallTrace();
  native.setSyscallTrace(true);
  let result: T | undefined;
  let error: unknown;
  try {
    result = fn();
  } catch (caught) {
    error = caught;
  } finally {
    native.setSyscallTrace(false);
  }
  return { result, error, syscalls: native.takeSyscallTrace().length / 2 };
}

/**
 * Why this machine's /dev/kvm cannot run the x86 real-kernel tests, or undefined when it can: an
 * x86_64 host whose /dev/kvm opens and creates a VM (checked with real calls, not by the path).
 */
export async function x86KvmUnavailable(): Promise<string | undefined> {
  if (process.arch !== 'x64') return `skipped: these tests expect an x86_64 kernel (this is ${process.arch})`;
  const { Kvm } = await import('../dist/index.js');
  try {
    using kvm = Kvm.open();
    kvm.createVm().close();
    return undefined;
  } catch (error) {
    const { code, message } = error as KvmVfioError;
    return `skipped: this machine has no usable /dev/kvm (${code}: ${message.split(' — ')[0]}); the POWER suite in test/power/ covers KVM against a real kernel`;
  }
}
