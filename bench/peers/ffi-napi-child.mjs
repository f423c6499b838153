// ffi-napi runs in its own process: it aborts at exit (uv_close assertion) and crashes when a
// worker that used it ends. The same call shapes as peers/koffi.mjs, with structs written into
// Buffers (pointers from ref-napi) the way an ffi-napi VMM would. Every call issues `request`
// (FIONREAD). Prints {version, rows: {shape: ns}} as JSON, then exits hard.
import { openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { measureInterleaved, loop, throwingLoop } from '../measure.mjs';

const [fifoPath, requestText, callsText] = process.argv.slice(2);
const request = Number(requestText);
const calls = Number(callsText);
const require = createRequire(import.meta.url);
const ffi = require('ffi-napi');
const ref = require('ref-napi');
const libc = ffi.Library('libc.so.6', { ioctl: ['int', ['int', 'ulong', 'pointer']] });
const out = Buffer.alloc(4);
const attr = Buffer.alloc(24); // struct kvm_device_attr
const u64Payload = Buffer.alloc(8);
const spaprPayload = Buffer.alloc(8); // struct kvm_vfio_spapr_tce
const pipeFd = openSync(fifoPath, 'r+');
const nullFd = openSync('/dev/null', 'r');

function check(result, name) {
  if (result >= 0) return result;
  const errno = ffi.errno();
  const error = new Error(`ioctl ${name} failed: errno ${errno}`);
  error.errno = -errno;
  error.code = 'ENOTTY';
  error.syscall = 'ioctl';
  throw error;
}

function deviceAttr(group, attrId, payload) {
  attr.writeUInt32LE(0, 0);
  attr.writeUInt32LE(group, 4);
  attr.writeBigUInt64LE(attrId, 8);
  attr.writeBigUInt64LE(payload ? BigInt(ref.address(payload)) : 0n, 16);
  return attr;
}

const shapes = {
  checkExtension: (fd) => check(libc.ioctl(fd, request, out), 'KVM_CHECK_EXTENSION'),
  hasAttr: (fd) => check(libc.ioctl(fd, request, deviceAttr(1, 3n, null)), 'KVM_HAS_DEVICE_ATTR') === 0,
  setAttrU64: (fd) => {
    u64Payload.writeBigUInt64LE(5n, 0);
    check(libc.ioctl(fd, request, deviceAttr(1, 3n, u64Payload)), 'KVM_SET_DEVICE_ATTR');
  },
  setSpaprTce: (fd) => {
    spaprPayload.writeInt32LE(4, 0);
    spaprPayload.writeInt32LE(5, 4);
    check(libc.ioctl(fd, request, deviceAttr(1, 3n, spaprPayload)), 'KVM_SET_DEVICE_ATTR');
  },
};

const rows = Object.entries(shapes).map(([name, fn]) => ({ name, calls, run: loop(() => fn(pipeFd)) }));
rows.push({ name: 'error', calls, run: throwingLoop(() => shapes.checkExtension(nullFd)) });
const results = measureInterleaved(rows);
process.stdout.write(
  `${JSON.stringify({ version: require('ffi-napi/package.json').version, rows: Object.fromEntries(results) })}\n`,
  () => process.kill(process.pid, 'SIGKILL'),
);
