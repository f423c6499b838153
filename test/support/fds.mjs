// The open fds of this process, shared by the host suite, the fuzzer and the emulated POWER host.
import { readdirSync, readlinkSync } from 'node:fs';

/** Open fd numbers (without the directory fd readdirSync used, which is gone by the readlink). */
export function openFds() {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      readlinkSync(`/proc/self/fd/${fd}`);
      return true;
    } catch {
      return false;
    }
  }).map(Number);
}

/** How many fds this process has open. */
export function openFdCount() {
  return openFds().length;
}
