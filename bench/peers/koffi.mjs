// koffi calling libc ioctl directly; the error path reads errno and builds a Node-style Error in JS.
import { createRequire } from 'node:module';

export function loadKoffiIoctl(fionread) {
  const require = createRequire(import.meta.url);
  const koffi = require('koffi');
  const libc = koffi.load('libc.so.6');
  const ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)');
  const out = new Int32Array(1);
  return {
    version: koffi.version,
    success: (fd) => {
      if (ioctl(fd, fionread, out) < 0) throw new Error('unexpected failure');
      return out[0];
    },
    failure: (fd) => {
      if (ioctl(fd, fionread, out) < 0) {
        const errno = koffi.errno();
        const error = new Error(`ioctl FIONREAD failed: errno ${errno}`);
        error.errno = -errno;
        error.code = 'ENOTTY';
        error.syscall = 'ioctl';
        throw error;
      }
      return out[0];
    },
  };
}
