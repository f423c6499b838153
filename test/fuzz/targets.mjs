// The fuzz targets every machine can run: the static functions of the public API, and the objects
// that exist without KVM or VFIO (FdProbe: the FdObject machinery on /dev/null; GuestMemory).
// The emulated POWER host adds its kernel objects (test/power/fuzz.test.mjs).
import fc from 'fast-check';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import {
  GroupDmaWindow, GuestMemory, KvmDevice, KvmVfioDevice, Kvm, Linkage, RegionMapping, SpaprTceTable, VfioContainer, VfioDevice, VfioGroup, Vm,
  addonCandidates, attachIommuGroup, capabilityName, devicesBlockingViability, errnoName, findHint, iommuGroupDevices,
  pageSize, probe, resourceStats, verdictLine,
} from '../../dist/index.js';
import { FdProbe } from '../../bench/probe.mjs';
import { openFdCount } from '../support/fds.mjs';
import { arg, integerArg, is, junk, optionsArg, pick, pickOrJunk } from './harness.mjs';
import { eventFdTargets, spaprTargets } from './vmm-targets.mjs';

export const PAGE = BigInt(pageSize());
/** The largest ArrayBuffer this Node makes: guest memory above it cannot be handed to JavaScript. */
export const MAX_BUFFER = BigInt(bufferConstants.MAX_LENGTH);
const FD_MAX = 2 ** 31 - 1;

export { openFdCount } from '../support/fds.mjs';

/**
 * The objects one property run plays with. Everything a call creates is added here and closed by
 * dispose(), which then checks that the process owns exactly the fds it owned before the run.
 */
export class World {
  #pools = new Map();
  #order = [];
  #extraClose = [];
  #fdsBefore = openFdCount();
  #ownedBefore = resourceStats().ownedFds;

  objects(kind) {
    return this.#pools.get(kind) ?? [];
  }

  add(kind, object) {
    if (!this.#pools.has(kind)) this.#pools.set(kind, []);
    this.#pools.get(kind).push(object);
    if (typeof object?.close === 'function') this.#order.push(object);
    return object;
  }

  /** Runs `close` at dispose, after the objects (e.g. the borrowed fds they were made from). */
  onDispose(close) {
    this.#extraClose.push(close);
  }

  dispose() {
    for (const object of this.#order.reverse()) object.close();
    for (const close of this.#extraClose.reverse()) close();
    const owned = resourceStats().ownedFds;
    const fds = openFdCount();
    if (owned !== this.#ownedBefore || fds !== this.#fdsBefore) {
      throw new Error(`leak after the run: library fds ${this.#ownedBefore} -> ${owned}, process fds ${this.#fdsBefore} -> ${fds}`);
    }
  }
}

/** A world with two probes on /dev/null (the caller's borrowed fd is closed at dispose) and guest memory. */
export function makeHostWorld() {
  const world = new World();
  const borrowed = openSync('/dev/null', 'r');
  world.onDispose(() => closeSync(borrowed));
  world.add('fd', borrowed);
  world.add('probe', FdProbe.adopt(borrowed));
  world.add('probe', FdProbe.adopt(borrowed));
  world.add('memory', GuestMemory.allocate(PAGE));
  world.add('report', hostReport());
  return world;
}

let cachedReport;
function hostReport() {
  cachedReport ??= probe();
  return cachedReport;
}

/** Paths that are safe to open O_RDWR anywhere (no device with side effects on open). */
const SAFE_PATHS = ['/dev/null', '/dev/zero', '/nonexistent/kvm', '/proc/self/status', '/', '/dev/kvm', '/dev/vfio/vfio', '/dev/vfio/1', 'relative/none'];
const pathArg = arg(is.path, fc.constantFrom(...SAFE_PATHS), ['', '/dev/null\u0000x', new String('/dev/null')]);
const optionalPath = arg(is.optional(is.path), fc.constantFrom(undefined, ...SAFE_PATHS));
/** A raw fd number: stdio, the world's borrowed /dev/null fd, fds that are not open, and junk. */
const fdArg = { arb: fc.oneof(integerArg(0, FD_MAX, fc.constantFrom(0, 1, 2, 9999, FD_MAX)).arb, pick('fd').arb), valid: is.integerIn(0, FD_MAX) };
const anything = { arb: junk, valid: () => true };
const never = (arbitrary = junk) => ({ arb: arbitrary, valid: () => false });
const guestMemorySize = arg(
  (value) => typeof value === 'bigint' && value >= 1n && value % PAGE === 0n && value <= MAX_BUFFER,
  fc.integer({ min: 1, max: 8 }).map((pages) => BigInt(pages) * PAGE),
  [0n, PAGE + 1n, -PAGE, MAX_BUFFER + PAGE, 1n << 62n, 1n << 64n, Number(PAGE), String(PAGE)],
);

const keepAs = (kind) => (world, result) => world.add(kind, result);

function isVmFd(fd) {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:kvm-vm';
  } catch {
    return false;
  }
}

/** Static functions and constructors of the public API. */
export function staticTargets() {
  return [
    { name: 'Kvm.open', args: [optionalPath], call: (_w, _r, path) => Kvm.open(path), keep: keepAs('kvm') },
    { name: 'Kvm.fromFd', args: [fdArg], call: (_w, _r, fd) => Kvm.fromFd(fd), keep: keepAs('kvm'), rawFd: true },
    { name: 'VfioContainer.open', args: [optionalPath], call: (_w, _r, path) => VfioContainer.open(path), keep: keepAs('container') },
    { name: 'VfioContainer.fromFd', args: [fdArg], call: (_w, _r, fd) => VfioContainer.fromFd(fd), keep: keepAs('container'), rawFd: true },
    {
      name: 'VfioGroup.open',
      args: [arg((value) => is.integerIn(0, FD_MAX)(value) || is.path(value), fc.oneof(fc.integer({ min: 0, max: 64 }), pathArg.arb), [-1, 1.5, FD_MAX + 1, ''])],
      call: (_w, _r, group) => VfioGroup.open(group),
      keep: keepAs('group'),
    },
    {
      name: 'VfioGroup.fromFd',
      args: [fdArg, arg(is.optional(is.integerIn(0, FD_MAX)), fc.constantFrom(undefined, 0, 1, 7))],
      call: (_w, _r, fd, group) => VfioGroup.fromFd(fd, group),
      keep: keepAs('group'),
      rawFd: true,
    },
    {
      name: 'Vm.fromFd',
      args: [fdArg, pickOrJunk('kvm', (value) => value instanceof Kvm), arg(is.optional(is.u32), fc.constantFrom(undefined, 0, 1))],
      valid: ([fd]) => isVmFd(fd),
      call: (_w, _r, fd, kvm, type) => Vm.fromFd(fd, kvm, type),
      keep: keepAs('vm'),
      rawFd: true,
    },
    { name: 'GuestMemory.allocate', args: [guestMemorySize], call: (_w, _r, size) => GuestMemory.allocate(size), keep: keepAs('memory') },
    { name: 'FdProbe.adopt', args: [fdArg], call: (_w, _r, fd) => FdProbe.adopt(fd), keep: keepAs('probe'), rawFd: true },
    { name: 'pageSize', args: [], call: () => pageSize() },
    { name: 'addonCandidates', args: [], call: () => addonCandidates() },
    { name: 'capabilityName', args: [integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 63, 142, 1000))], call: (_w, _r, cap) => capabilityName(cap) },
    { name: 'errnoName', args: [integerArg(0, 4095, fc.integer({ min: 0, max: 200 }))], call: (_w, _r, errno) => errnoName(errno) },
    {
      name: 'findHint',
      args: [
        arg(is.path, fc.constantFrom('open', 'KVM_SET_DEVICE_ATTR', '*', 'x')),
        arg((value) => Array.isArray(value) && value.every((q) => typeof q === 'string'), fc.array(fc.constantFrom('kvm', 'kvm-vfio', 'vfio group', ''), { maxLength: 3 })),
        arg((value) => typeof value === 'string', fc.constantFrom('ENOENT', 'EBUSY', 'EIO', '')),
      ],
      valid: ([request]) => typeof request === 'string',
      call: (_w, _r, request, qualifiers, code) => findHint(request, qualifiers, code),
    },
    {
      name: 'probe',
      args: [optionsArg({ kvmPath: optionalPath, vfioPath: optionalPath, sysfs: optionalPath }, { optional: true })],
      call: (_w, _r, options) => probe(options),
      weight: 0.2,
    },
    { name: 'verdictLine', args: [pickOrJunk('report', (value) => value !== undefined && value === cachedReport)], call: (_w, _r, report) => verdictLine(report) },
    {
      name: 'iommuGroupDevices',
      args: [integerArg(0, FD_MAX, fc.constantFrom(0, 1, 2, 99)), optionalPath],
      call: (_w, _r, group, sysfs) => iommuGroupDevices(group, sysfs),
    },
    {
      name: 'devicesBlockingViability',
      args: [integerArg(0, FD_MAX, fc.constantFrom(0, 1, 2, 99)), optionalPath],
      call: (_w, _r, group, sysfs) => devicesBlockingViability(group, sysfs),
    },
    ...forgeryTargets(),
  ];
}

/** The library's internal factories and constructors: JavaScript must not be able to forge objects with them. */
function forgeryTargets() {
  const fdOrJunk = { arb: fc.oneof(fc.constantFrom(0, 1, 2, 9999), pick('fd').arb, junk), valid: () => false };
  return [
    { name: 'Vm.fromOwnedFd', args: [fdOrJunk, never(), never()], call: (_w, _r, ...a) => Vm.fromOwnedFd(...a), keep: keepAs('forged') },
    { name: 'KvmDevice.fromOwnedFd', args: [fdOrJunk, never(), never()], call: (_w, _r, ...a) => KvmDevice.fromOwnedFd(...a), keep: keepAs('forged') },
    { name: 'KvmVfioDevice.fromOwnedVfioFd', args: [fdOrJunk, never()], call: (_w, _r, ...a) => KvmVfioDevice.fromOwnedVfioFd(...a), keep: keepAs('forged') },
    { name: 'SpaprTceTable.fromOwnedFd', args: [fdOrJunk, never(), never(), never()], call: (_w, _r, ...a) => SpaprTceTable.fromOwnedFd(...a), keep: keepAs('forged') },
    { name: 'VfioDevice.fromOwnedFd', args: [fdOrJunk, never(), never()], call: (_w, _r, ...a) => VfioDevice.fromOwnedFd(...a), keep: keepAs('forged') },
    { name: 'new RegionMapping', args: [never(), never()], call: (_w, _r, ...a) => new RegionMapping(...a), keep: keepAs('forged') },
    { name: 'new Linkage', args: [never(), never()], call: (_w, _r, ...a) => new Linkage(...a), keep: keepAs('forged') },
    { name: 'new GroupDmaWindow', args: [never(), never()], call: (_w, _r, ...a) => new GroupDmaWindow(...a), keep: keepAs('forged') },
    { name: 'attachIommuGroup', args: [pickOrJunk('probe', () => false), anything], call: (_w, _r, vm, options) => attachIommuGroup(vm, options) },
  ];
}

/** FdProbe: the FdObject machinery (closed guard, fd ownership) on /dev/null. */
export function probeTargets() {
  const smallCount = arg(is.u32, fc.integer({ min: 0, max: 3 }), [-1, 2 ** 32, 1.5, 1n, '1']);
  return [
    { name: 'FdProbe.readableBytes', receiver: 'probe', args: [], call: (_w, probe) => probe.readableBytes() },
    {
      name: 'FdProbe.floor',
      receiver: 'probe',
      args: [smallCount],
      skip: ([count]) => is.u32(count) && count > 3, // valid, but billions of ioctls
      call: (_w, probe, count) => probe.floor(count),
    },
    { name: 'FdProbe.close', receiver: 'probe', needsOpen: false, args: [], call: (_w, probe) => probe.close(), weight: 0.5 },
    { name: 'FdProbe[Symbol.dispose]', receiver: 'probe', needsOpen: false, args: [], call: (_w, probe) => probe[Symbol.dispose](), weight: 0.3 },
  ];
}

/** GuestMemory: an anonymous mapping exposed as an external ArrayBuffer. */
export function memoryTargets() {
  return [
    {
      name: 'GuestMemory.buffer',
      receiver: 'memory',
      args: [],
      call: (_w, memory) => {
        const view = new Uint8Array(memory.buffer);
        view[view.length - 1] += 1; // the whole mapping is live and writable
        return view.length;
      },
    },
    { name: 'GuestMemory.users', receiver: 'memory', needsOpen: false, args: [], call: (_w, memory) => memory.users },
    { name: 'GuestMemory.close', receiver: 'memory', needsOpen: false, args: [], call: (_w, memory) => memory.close(), weight: 0.5 },
  ];
}

/** Every host target. */
export function hostTargets() {
  return [...staticTargets(), ...probeTargets(), ...memoryTargets(), ...eventFdTargets(), ...spaprTargets()];
}
