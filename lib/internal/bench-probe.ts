// For benchmarks only: FIONREAD through exactly the call path of the KVM wrappers (closed guard,
// argument check, native call, result check, KvmVfioError on failure), usable without /dev/kvm.
import { syscallError } from '../errors.js';
import { CONSTRUCTING, FdObject } from '../handle.js';
import { native } from '../native.js';
import { checkInteger, checkU32 } from '../validate.js';

export class FdProbe extends FdObject {
  private constructor(token: typeof CONSTRUCTING, fd: number) {
    super(token, fd, 'probe fd');
  }

  /** Owns a CLOEXEC duplicate of `fd`. */
  static adopt(fd: number): FdProbe {
    checkInteger('fd', fd, 0, 0x7fff_ffff);
    const owned = native.duplicateFd(fd);
    if (owned < 0) throw syscallError(owned, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: `fd ${fd}` });
    return new FdProbe(CONSTRUCTING, owned);
  }

  /** FIONREAD: bytes readable (pipes), ENOTTY on /dev/null. */
  readableBytes(): number {
    const result = native.probeFionread(this.fdFor('readableBytes'));
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'FIONREAD', target: this.target });
    return result;
  }

  /** The in-process floor: `count` FIONREADs in one native call. */
  floor(count: number): number {
    checkU32('count', count);
    return native.probeFionreadLoop(this.fdFor('floor'), count);
  }
}
