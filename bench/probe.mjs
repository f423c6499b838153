// The benchmarks' probe addon (bench/native/probe.cc), loaded for this machine's target from
// .cache/bench-probe/ (node bench/build-probe.mjs builds it; the host test suite and npm run bench
// do that first), and FdProbe: the library's FdObject machinery (closed guard, fd ownership,
// finalizer) over any fd, with FIONREAD as its call, for benchmarks and tests without /dev/kvm.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = (file) => import(join(root, 'dist', file));
const { syscallError } = await dist('errors.js');
const { CONSTRUCTING, FdObject } = await dist('handle.js');
const { native } = await dist('native.js');
const { checkInteger, checkU32 } = await dist('validate.js');

function loadProbe() {
  const target = `${process.platform}-${process.arch}`;
  const file = join(root, '.cache', 'bench-probe', target, 'bench_probe.node');
  if (!existsSync(file)) throw new Error(`bench probe: ${file} is missing; run node bench/build-probe.mjs ${target}`);
  return createRequire(import.meta.url)(file);
}

/** The probe addon: twins, floors, probeFionread, and shareFd / unshareFd. */
export const probe = loadProbe();

joinSyscallTraces();

/** The probe's syscalls count in the library's trace (debug.ts, the tests' tracingSyscalls). */
function joinSyscallTraces() {
  const { setSyscallTrace, takeSyscallTrace } = native;
  native.setSyscallTrace = (enabled) => {
    setSyscallTrace(enabled);
    probe.setSyscallTrace(enabled);
  };
  native.takeSyscallTrace = () => [...takeSyscallTrace(), ...probe.takeSyscallTrace()];
}

/** Lets the probe's functions take `fd`, which the library owns; returns it. */
export function shared(fd) {
  if (!native.isOwnedFd(fd)) throw new Error(`bench probe: fd ${fd} is not one of the library's fds`);
  probe.shareFd(fd);
  return fd;
}

export class FdProbe extends FdObject {
  #fd;

  constructor(token, fd) {
    super(token, fd, 'probe fd');
    this.#fd = shared(fd);
  }

  /** Owns a CLOEXEC duplicate of `fd`. */
  static adopt(fd) {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    const owned = native.duplicateFd(fd);
    if (owned < 0) throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}` });
    return new FdProbe(CONSTRUCTING, owned);
  }

  /** FIONREAD: bytes readable (pipes), ENOTTY on /dev/null. */
  readableBytes() {
    const result = probe.probeFionread(this.fdFor('readableBytes'));
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'FIONREAD', target: this.target });
    return result;
  }

  /** The in-process floor: `count` FIONREADs in one native call. */
  floor(count) {
    checkU32('count', count);
    return probe.probeFionreadLoop(this.fdFor('floor'), count);
  }

  beforeClose() {
    probe.unshareFd(this.#fd);
  }
}
