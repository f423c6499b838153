// ffi-napi runs in its own process: it aborts at exit (uv_close assertion) and crashes when a
// worker that used it ends. Prints {version, successNs, failureNs} as JSON, then exits hard.
import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { measureInterleaved, loop, throwingLoop } from '../measure.mjs';

const [fifoPath, fionreadText, callsText] = process.argv.slice(2);
const fionread = Number(fionreadText);
const calls = Number(callsText);
const require = createRequire(import.meta.url);
const ffi = require('ffi-napi');
const libc = ffi.Library('libc.so.6', { ioctl: ['int', ['int', 'ulong', 'pointer']] });
const out = Buffer.alloc(4);
const pipeFd = openSync(fifoPath, 'r+');
const nullFd = openSync('/dev/null', 'r');

const failure = () => {
  if (libc.ioctl(nullFd, fionread, out) < 0) {
    const errno = ffi.errno();
    const error = new Error(`ioctl FIONREAD failed: errno ${errno}`);
    error.errno = -errno;
    error.code = 'ENOTTY';
    error.syscall = 'ioctl';
    throw error;
  }
};
const results = measureInterleaved([
  { name: 'success', calls, run: loop(() => libc.ioctl(pipeFd, fionread, out)) },
  { name: 'failure', calls, run: throwingLoop(failure) },
]);
process.stdout.write(
  `${JSON.stringify({ version: require('ffi-napi/package.json').version, successNs: results.get('success'), failureNs: results.get('failure') })}\n`,
  () => process.kill(process.pid, 'SIGKILL'),
);
