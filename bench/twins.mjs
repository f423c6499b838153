// The library's hot calls in every call shape, on any x86 machine (host-kvm.mjs measures the real
// KVM ioctls where /dev/kvm is usable, but x86 has no setSpaprTce and no TCE table): the public
// methods run exactly as shipped (closed guard, argument checks, N-API call, result check,
// KvmVfioError), on objects that own a pipe fd (success) or a /dev/null fd (ENOTTY), with each
// KVM native function swapped for its twin from bench/native/probe.cc: the same argument reads
// and struct building, but FIONREAD instead of the KVM request. The swap happens once, before
// any call is measured, and swapInTwins() returns the way back.
import { openSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = (file) => import(join(root, 'dist', file));
const { native } = await dist('native.js');
const { CONSTRUCTING } = await dist('handle.js');
const { DeviceType, Kvm, KvmDevice, KvmVfioDevice, SpaprTceTable, VfioGroup } = await dist('index.js');
const { probe, shared } = await import('./probe.mjs');

const TABLE_ENTRIES = 1n << 18n; // a 1 GiB window of 4 KiB IOMMU pages

const SWAPPED = ['checkExtension', 'hasDeviceAttr', 'setDeviceAttrU64', 'setSpaprTce', 'mapSpaprTceTable'];

/**
 * Replaces the KVM natives the hot calls use with their FIONREAD twins; a table maps anonymous
 * memory. Returns a function that puts the real natives back (the real-KVM rows run after these).
 */
export function swapInTwins() {
  const real = Object.fromEntries(SWAPPED.map((name) => [name, native[name]]));
  native.checkExtension = probe.twinCheckExtension;
  native.hasDeviceAttr = probe.twinHasDeviceAttr;
  native.setDeviceAttrU64 = probe.twinSetDeviceAttrU64;
  native.setSpaprTce = probe.twinSetSpaprTce;
  native.mapSpaprTceTable = (fd, entries) => {
    const page = BigInt(native.pageSize());
    return native.mapAnonymous(((entries * 8n + page - 1n) / page) * page);
  };
  return () => Object.assign(native, real);
}

/** An fd the addon owns and shares with the probe: a CLOEXEC duplicate of `path` opened read-write (a fifo) or read-only. */
function ownedFd(path) {
  const fd = openSync(path, path.endsWith('.fifo') ? 'r+' : 'r');
  const owned = native.duplicateFd(fd);
  closeSync(fd);
  if (owned < 0) throw new Error(`duplicateFd(${path}) failed: ${owned}`);
  return shared(owned);
}

/**
 * Library objects over `path` (a fifo for success rows, /dev/null for the error path): a Kvm, a
 * KVM-VFIO device, a VFIO group and an sPAPR TCE table, as a VMM holds them after attachIommuGroup.
 */
export function objectsOver(path) {
  const vm = {}; // only stored by the device and the table; never called
  const kvm = new Kvm(CONSTRUCTING, ownedFd(path), 'kvm system', 12);
  const device = KvmVfioDevice.fromOwnedVfioFd(CONSTRUCTING, ownedFd(path), vm);
  const genericDevice = KvmDevice.fromOwnedFd(CONSTRUCTING, ownedFd(path), vm, DeviceType.VFIO);
  const group = new VfioGroup(CONSTRUCTING, ownedFd('/dev/null'), 1, 1);
  const table = SpaprTceTable.fromOwnedFd(CONSTRUCTING, ownedFd('/dev/null'), vm, { liobn: 0x80000000n, pageShift: 12, offset: 0n, size: TABLE_ENTRIES }, false);
  return {
    kvm,
    device,
    genericDevice,
    group,
    table,
    close() {
      for (const object of [kvm, device, genericDevice, group, table]) object.close();
    },
  };
}

/** The raw floor loops (one native call, `count` ioctls). */
export function floorLoops(path) {
  const fd = ownedFd(path);
  return {
    fionread: (count) => probe.probeFionreadLoop(fd, count),
    close: () => native.closeFd(fd),
  };
}

export { native };
