// Rows shared by the per-call benches: the pure-JS error reference, and the error path of a real
// KVM ioctl (KVM_SET_DEVICE_ATTR of an attribute the KVM-VFIO device lacks: ENXIO), measured
// against its in-process floor, with the library's full stack and with KvmVfioError.stackFrames = 0.
import { throwingLoop } from './measure.mjs';

const GROUP = 1; // KVM_DEV_VFIO_GROUP
const NO_SUCH_ATTR = 99n;

/** Throws an Error shaped like Node's system errors, built in JavaScript: the reference for every error row. */
export function pureJsError(code = 'ENXIO', errno = 6, request = 'KVM_SET_DEVICE_ATTR') {
  const error = new Error(`ioctl ${request} failed: errno ${errno}`);
  error.errno = -errno;
  error.code = code;
  error.syscall = 'ioctl';
  throw error;
}

/** ids errorFloor, lib.error, lib.errorNoStack, js.error; `batches(floor)` runs a floor loop in batches. */
export function deviceErrorRows({ native, probe, device, deviceFd, KvmVfioError, calls, batches }) {
  const fail = () => device.setAttr(GROUP, NO_SUCH_ATTR);
  return [
    { id: 'errorFloor', calls, run: batches((n) => probe.deviceAttrLoop(deviceFd, native.requests.KVM_SET_DEVICE_ATTR, GROUP, NO_SUCH_ATTR, n)) },
    { id: 'lib.error', calls: calls / 4, run: throwingLoop(fail) },
    {
      id: 'lib.errorNoStack',
      calls: calls / 4,
      run: (count) => {
        KvmVfioError.stackFrames = 0;
        throwingLoop(fail)(count);
        KvmVfioError.stackFrames = undefined;
      },
    },
    { id: 'js.error', calls: calls / 4, run: throwingLoop(() => pureJsError()) },
  ];
}
