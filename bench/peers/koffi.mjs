// koffi calling libc ioctl directly, the way a VMM written against koffi would: structs built by
// koffi from plain objects, no argument checks, errno read and a Node-style Error built in JS on
// failure. The request numbers are passed in (from the addon's requestNumbers): FIONREAD for every
// call on x86, the real KVM requests inside the emulated POWER host.
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { resolve } from 'node:path';

const errnoNames = Object.fromEntries(Object.entries(constants.errno).map(([name, number]) => [number, name]));

function errnoError(koffi, name) {
  const errno = koffi.errno();
  const error = new Error(`ioctl ${name} failed: errno ${errno}`);
  error.errno = -errno;
  error.code = errnoNames[errno];
  error.syscall = 'ioctl';
  return error;
}

/**
 * requests: { checkExtension, hasAttr, setAttr } request numbers. capByValue: checkExtension passes
 * its argument as a value (KVM_CHECK_EXTENSION) rather than a pointer to an int (FIONREAD).
 * from: a directory whose node_modules holds koffi (default: bench/'s own).
 */
/** koffi's struct types are process-wide: they are declared, and the ioctl prototypes bound, once per koffi. */
const bindings = new Map();

function bind(from) {
  const require = createRequire(from ? resolve(from, 'package.json') : import.meta.url);
  const koffi = require('koffi');
  if (bindings.has(koffi)) return bindings.get(koffi);
  const libc = koffi.load('libc.so.6');
  koffi.struct('kvm_vfio_spapr_tce', { groupfd: 'int32', tablefd: 'int32' });
  koffi.struct('kvm_device_attr', { flags: 'uint32', group: 'uint32', attr: 'uint64', addr: 'uint64' });
  koffi.struct('kvm_device_attr_u64', { flags: 'uint32', group: 'uint32', attr: 'uint64', addr: 'uint64 *' });
  koffi.struct('kvm_device_attr_spapr', { flags: 'uint32', group: 'uint32', attr: 'uint64', addr: 'kvm_vfio_spapr_tce *' });
  const bound = {
    koffi,
    ioctlPointer: libc.func('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctlValue: libc.func('ioctl', 'int', ['int', 'unsigned long', 'unsigned long']),
    ioctlAttr: libc.func('ioctl', 'int', ['int', 'unsigned long', 'const kvm_device_attr *']),
    ioctlAttrU64: libc.func('ioctl', 'int', ['int', 'unsigned long', 'const kvm_device_attr_u64 *']),
    ioctlAttrSpapr: libc.func('ioctl', 'int', ['int', 'unsigned long', 'const kvm_device_attr_spapr *']),
  };
  bindings.set(koffi, bound);
  return bound;
}

export function loadKoffiPeer({ requests, capByValue = false, from }) {
  const { koffi, ioctlPointer, ioctlValue, ioctlAttr, ioctlAttrU64, ioctlAttrSpapr } = bind(from);
  const out = new Int32Array(1);
  const check = (result, name) => {
    if (result < 0) throw errnoError(koffi, name);
    return result;
  };
  return {
    version: koffi.version,
    checkExtension: capByValue
      ? (fd, cap) => check(ioctlValue(fd, requests.checkExtension, cap), 'KVM_CHECK_EXTENSION')
      : (fd) => check(ioctlPointer(fd, requests.checkExtension, out), 'KVM_CHECK_EXTENSION'),
    hasAttr: (fd, group, attr) => check(ioctlAttr(fd, requests.hasAttr, { flags: 0, group, attr, addr: 0n }), 'KVM_HAS_DEVICE_ATTR') === 0,
    setAttrNone: (fd, group, attr) => {
      check(ioctlAttr(fd, requests.setAttr, { flags: 0, group, attr, addr: 0n }), 'KVM_SET_DEVICE_ATTR');
    },
    setAttrU64: (fd, group, attr, value) => {
      check(ioctlAttrU64(fd, requests.setAttr, { flags: 0, group, attr, addr: [value] }), 'KVM_SET_DEVICE_ATTR');
    },
    setSpaprTce: (fd, groupfd, tablefd) => {
      check(ioctlAttrSpapr(fd, requests.setAttr, { flags: 0, group: 1, attr: 3n, addr: { groupfd, tablefd } }), 'KVM_SET_DEVICE_ATTR');
    },
  };
}
