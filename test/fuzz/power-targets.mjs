// Fuzz targets for the kernel objects, run inside the emulated POWER host (test/power/fuzz.test.mjs):
// Kvm, Vm, KvmDevice, KvmVfioDevice, VfioContainer, VfioGroup, VfioDevice, SpaprTceTable,
// attachIommuGroup and Linkage, on a world that holds a VFIO group linked to a TCE table. On an
// x86 host with a usable /dev/kvm (test/fuzz.test.ts) the same targets run on makeX86KvmWorld():
// the KVM objects x86 has, so the POWER-only calls meet an x86 kernel's answers, and the targets
// whose receivers only POWER has (containers, groups, tables, linkages) are skipped.
//
// What the fuzzer does not do, and why:
//   - add a VFIO group to a KVM-VFIO device without linking it: removing or releasing such a group
//     makes the 6.12 kernel WARN (zz-kernel-warn.test.mjs); calls that would do that are skipped,
//     every other use of groups (EEXIST, ENOENT, removal of linked groups, raw fds) is fuzzed;
//   - writes to device config space and BARs, device resets and EEH operations other than
//     GET_STATE with valid arguments (side effects on the emulated devices; invalid arguments are
//     fuzzed);
//   - create interrupt-controller devices (XICS, XIVE), DMA windows above 1 GiB or TCE tables above
//     2^20 entries (memory in the emulated host and in qemu);
//   - the async variants (registerMemoryAsync...): test/power/processes.test.mjs covers them;
//   - vcpu.run(): it starts a thread that runs the guest (test/power/vcpu.test.mjs and
//     lifetimes.test.mjs cover its arguments and lifetimes); every other vCPU call is fuzzed.
import fc from 'fast-check';
import { vmmTargets } from './vmm-targets.mjs';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import {
  Cap, DeviceType, GuestMemory, IommuType, Kvm, KvmVfioDevice, OneReg, SpaprTceTable, VfioContainer, VfioGroup, attachIommuGroup,
  prepareDmaWindow,
} from '../../dist/index.js';
import { FdProbe } from '../../bench/probe.mjs';
import { arg, bigArg, integerArg, is, junk, optionsArg, pick, pickOrJunk } from './harness.mjs';
import { PAGE, World, memoryTargets, probeTargets, staticTargets } from './targets.mjs';

// The emulated host's groups and their devices' addresses (from sysfs: they differ between pseries and PowerNV).
import { DEVICE_EDU, DEVICE_TESTDEV, GROUP_EDU, GROUP_TESTDEV } from '../power/groups.mjs';

export { GROUP_EDU, GROUP_TESTDEV };
const GIB = 1n << 30n;
const LIOBN = 0x80000000n;
const FD_MAX = 2 ** 31 - 1;
const TAINT_WARN = 1 << 9;

function kernelWarned() {
  return (Number(readFileSync('/proc/sys/kernel/tainted', 'utf8')) & TAINT_WARN) !== 0;
}

/** '/dev/vfio/N' when `fd` is an open VFIO group (not the container), else undefined. */
function vfioGroupPath(fd) {
  if (!is.integerIn(0, FD_MAX)(fd)) return undefined;
  try {
    const path = readlinkSync(`/proc/self/fd/${fd}`);
    return /^\/dev\/vfio\/\d+$/.test(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function groupPath(ref) {
  if (!(ref instanceof VfioGroup)) return vfioGroupPath(ref);
  if (ref.closed) return undefined; // refused before any syscall
  return ref.number === undefined ? 'a group from fromFd()' : `/dev/vfio/${ref.number}`;
}

/** The groups a KVM-VFIO device has (as the library tracked them), by path. */
function addedPaths(device) {
  return new Set(device.groups.map(groupPath).filter(Boolean));
}

/** True when this call would add a VFIO group that the device does not have yet (it would stay unlinked). */
function addsUnlinkedGroup(device, ref) {
  const path = groupPath(ref);
  if (path === undefined) return false;
  return !(device instanceof KvmVfioDevice) || !addedPaths(device).has(path);
}

/** The s32 fd an attribute payload carries (what the kernel reads first through addr). */
function payloadFd(value) {
  if (typeof value === 'bigint') return Number(BigInt.asIntN(32, value));
  if (value !== null && typeof value === 'object') {
    if (typeof value.u64 === 'bigint') return Number(BigInt.asIntN(32, value.u64));
    if (typeof value.u64 === 'number') return value.u64 | 0;
    if (typeof value.fd === 'number') return value.fd;
    if (value.fd instanceof VfioGroup) return value.fd;
  }
  return undefined;
}

/** What both worlds start from: a borrowed /dev/null fd, /dev/kvm, two VMs (the first is primary), guest memory. */
function kvmWorld() {
  const world = new World();
  const borrowed = openSync('/dev/null', 'r');
  world.onDispose(() => closeSync(borrowed));
  world.add('fd', borrowed);
  const kvm = world.add('kvm', Kvm.open());
  const vm = world.add('vm', kvm.createVm());
  const otherVm = world.add('vm', kvm.createVm());
  world.primaryVm = vm;
  world.primaryGroup = undefined;
  const memory = world.add('memory', GuestMemory.allocate(PAGE * 4n));
  return { world, borrowed, kvm, vm, otherVm, memory };
}

/**
 * The world: a VM with its KVM-VFIO device, group 1 in a v2 container with a 1 GiB window at 0,
 * linked to a TCE table; a second VM with its own table and a linkage of group 2 made by
 * attachIommuGroup; guest memory, the group's device, a probe on /dev/null.
 */
export function makePowerWorld() {
  if (kernelWarned()) throw new Error('the kernel had already WARNed before this run');
  const parts = kvmWorld();
  try {
    return populatePowerWorld(parts);
  } catch (error) {
    // A half-made world would keep its groups open, and every later run would fail with EBUSY instead.
    try {
      parts.world.dispose();
    } catch (disposeError) {
      error.message += ` (then disposing the half-made world failed: ${disposeError.message})`;
    }
    throw error;
  }
}

function populatePowerWorld({ world, borrowed, vm, otherVm, memory }) {
  world.add('linkage', attachIommuGroup(otherVm, { group: GROUP_EDU, liobn: LIOBN + 1n, windowSize: GIB, memory }));
  const device = world.add('kvmvfio', vm.createVfioDevice());
  const container = world.add('container', VfioContainer.open());
  const group = world.add('group', VfioGroup.open(GROUP_TESTDEV));
  world.primaryGroup = group;
  group.setContainer(container);
  container.setIommu(IommuType.SPAPR_TCE_V2);
  container.removeWindow(0n);
  container.createWindow({ pageShift: 12, windowSize: GIB });
  const table = world.add('table', vm.createSpaprTceTable({ liobn: LIOBN, size: GIB >> 12n }));
  device.addGroup(group);
  device.setSpaprTce(group, table);
  world.add('table', otherVm.createSpaprTceTable({ liobn: LIOBN, size: 512n }));
  world.add('vfiodevice', group.getDeviceFd(DEVICE_TESTDEV));
  world.add('vcpu', vm.createVcpu(0));
  world.add('probe', FdProbe.adopt(borrowed));
  const dispose = world.dispose.bind(world);
  world.dispose = () => {
    dispose();
    if (kernelWarned()) throw new Error('the kernel WARNed during this run (taint bit 9)');
  };
  return world;
}

/** The world on an x86 host's /dev/kvm: two VMs, a KVM-VFIO device, a vCPU, guest memory, a probe. */
export function makeX86KvmWorld() {
  const { world, borrowed, vm } = kvmWorld();
  world.add('kvmvfio', vm.createVfioDevice());
  world.add('vcpu', vm.createVcpu(0));
  world.add('probe', FdProbe.adopt(borrowed));
  return world;
}

const keepAs = (kind) => (world, result) => world.add(kind, result);
const u32 = (values) => integerArg(0, 2 ** 32 - 1, fc.constantFrom(...values));
const u64 = (values) => arg(is.u64, fc.constantFrom(...values), [-1, -1n, 2n ** 64n, 1.5, Number.NaN]);
const refArg = (kind, type) => ({
  arb: fc.oneof(pick(kind).arb, pick('table').arb, pick('group').arb, pick('fd').arb, fc.constantFrom(-1, 9999), junk),
  valid: (value) => value instanceof type || is.integerIn(-1, FD_MAX)(value),
});

/** Kvm: /dev/kvm. */
function kvmTargets() {
  return [
    { name: 'Kvm.checkExtension', receiver: 'kvm', args: [u32([0, 63, 125, 142, 9999])], call: (_w, kvm, cap) => kvm.checkExtension(cap) },
    {
      name: 'Kvm.createVm',
      receiver: 'kvm',
      args: [optionsArg({ type: arg(is.optional(is.u32), fc.constantFrom(undefined, 0, 1, 2, 99)) }, { optional: true })],
      call: (_w, kvm, options) => kvm.createVm(options),
      keep: keepAs('vm'),
      weight: 0.5,
    },
    { name: 'Kvm.vcpuMmapSize', receiver: 'kvm', args: [], call: (_w, kvm) => kvm.vcpuMmapSize() },
    { name: 'Kvm.close', receiver: 'kvm', needsOpen: false, args: [], call: (_w, kvm) => kvm.close(), weight: 0.2 },
  ];
}

const tableOptions = optionsArg({
  liobn: bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(LIOBN, LIOBN + 2n, LIOBN + 3n, 0n)),
  pageShift: arg(is.optional(is.integerIn(0, 63)), fc.constantFrom(undefined, 12, 16, 11, 35), [64, -1, 12.5]),
  offset: arg(is.optional(is.u64Big), fc.constantFrom(undefined, 0n, 1n, 2n ** 60n)),
  size: bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 1n, 512n, 1n << 18n)),
});

/** Vm: the VM fd. */
function vmTargets() {
  return [
    { name: 'Vm.checkExtension', receiver: 'vm', args: [u32([63, 125, 142, 89, 9999])], call: (_w, vm, cap) => vm.checkExtension(cap) },
    { name: 'Vm.supportsDevice', receiver: 'vm', args: [u32([DeviceType.VFIO, DeviceType.XICS, DeviceType.XIVE, 0, 0x7fff])], call: (_w, vm, type) => vm.supportsDevice(type) },
    {
      name: 'Vm.createDevice',
      receiver: 'vm',
      args: [u32([DeviceType.VFIO, 0, 99, 0x7fff])],
      skip: ([type]) => is.u32(type) && type >= 1 && type <= 9 && type !== DeviceType.VFIO, // interrupt controllers
      call: (_w, vm, type) => vm.createDevice(type),
      keep: (world, device) => world.add(device instanceof KvmVfioDevice ? 'kvmvfio' : 'kvmdevice', device),
    },
    { name: 'Vm.createVfioDevice', receiver: 'vm', args: [], call: (_w, vm) => vm.createVfioDevice(), keep: keepAs('kvmvfio') },
    { name: 'Vm.vfioDevice', receiver: 'vm', needsOpen: false, args: [], call: (_w, vm) => vm.vfioDevice },
    {
      name: 'Vm.createSpaprTceTable',
      receiver: 'vm',
      args: [tableOptions],
      skip: ([options]) => is.plainObject(options) && typeof options.size === 'bigint' && options.size > 1n << 20n && tableOptions.valid(options),
      call: (_w, vm, options) => vm.createSpaprTceTable(options),
      keep: keepAs('table'),
    },
    {
      name: 'Vm.enableCap',
      receiver: 'vm',
      args: [u32([104, 9999, 0]), enableCapArgs],
      call: (_w, vm, cap, args) => vm.enableCap(cap, args),
    },
    { name: 'Vm.close', receiver: 'vm', needsOpen: false, args: [], call: (_w, vm) => vm.close(), weight: 0.2 },
  ];
}

// undefined is the documented default (no arguments): enableCap(cap, args = []).
const enableCapArgs = arg(
  (value) => value === undefined || (Array.isArray(value) && value.length <= 4 && value.every(is.u64)),
  fc.array(fc.constantFrom(0x138n, 1n, 0n, 5), { maxLength: 4 }),
  [[1n, 2n, 3n, 4n, 5n], [-1n], [1.5]],
);

/** Memory slots and vCPUs of a VM. */
function vcpuVmTargets() {
  const slot = integerArg(0, 0x7fff, fc.constantFrom(0, 1, 0x7fff));
  const region = optionsArg({
    slot,
    guestPhysAddr: bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 1n << 20n, 1n, 2n ** 64n - PAGE)),
    memory: pickOrJunk('memory', (value) => value instanceof GuestMemory),
    readonly: arg(is.optional(is.boolean), fc.constantFrom(undefined, false, true), ['yes', 1]),
  });
  return [
    { name: 'Vm.setMemoryRegion', receiver: 'vm', args: [region], call: (_w, vm, options) => vm.setMemoryRegion(options) },
    { name: 'Vm.deleteMemoryRegion', receiver: 'vm', args: [slot], call: (_w, vm, n) => vm.deleteMemoryRegion(n) },
    { name: 'Vm.createVcpu', receiver: 'vm', args: [integerArg(0, 2 ** 32 - 1, fc.constantFrom(0, 1, 2, 5000))], call: (_w, vm, id) => vm.createVcpu(id), keep: keepAs('vcpu'), weight: 0.3 },
    { name: 'Vm.stats', receiver: 'vm', args: [], call: (_w, vm) => Object.keys(vm.stats()).length, weight: 0.3 },
  ];
}

/** A ONE_REG id: a name this architecture knows, or a number for a register of at most 64 bits. */
const oneRegId = arg(
  (value) => (typeof value === 'string' && Object.hasOwn(OneReg, value)) || (is.u64Big(value) && ((value >> 52n) & 0xfn) <= 3n),
  fc.constantFrom('LPCR_64', 'FPR14', 'FPSCR', OneReg.FPR14 ?? 0n, OneReg.LPCR_64 ?? 0n),
  ['NOPE', 'toString', '__proto__', 0n, (OneReg.FPR14 ?? 0n) | (4n << 52n), 2n ** 64n - 1n, -1n, 2n ** 64n, 7],
);

/** Vcpu: registers, ONE_REG, caps, stats (not run()). */
function vcpuTargets() {
  const u64Field = arg(is.optional(is.u64Big), fc.constantFrom(undefined, 0n, 0x100n, 2n ** 64n - 1n), [-1n, 1, 2n ** 64n]);
  const regs = optionsArg({
    pc: u64Field,
    msr: u64Field,
    gpr: arg(
      is.optional((value) => Array.isArray(value) && value.length <= 32 && value.every((word) => word === undefined || is.u64Big(word))),
      fc.constantFrom(undefined, [1n, 2n], []),
      [[1], new Array(33).fill(0n), [-1n]],
    ),
  }, { optional: true });
  return [
    { name: 'Vcpu.getRegs', receiver: 'vcpu', args: [], call: (_w, vcpu) => vcpu.getRegs().pc },
    { name: 'Vcpu.setRegs', receiver: 'vcpu', args: [regs], call: (_w, vcpu, r) => vcpu.setRegs(r) },
    { name: 'Vcpu.getOneReg', receiver: 'vcpu', args: [oneRegId], call: (_w, vcpu, id) => vcpu.getOneReg(id) },
    { name: 'Vcpu.setOneReg', receiver: 'vcpu', args: [oneRegId, bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 1n, 2n ** 63n))], call: (_w, vcpu, id, v) => vcpu.setOneReg(id, v) },
    { name: 'Vcpu.enableCap', receiver: 'vcpu', args: [u32([Cap.PPC_PAPR, 0, 9999]), enableCapArgs], call: (_w, vcpu, cap, a) => vcpu.enableCap(cap, a) },
    { name: 'Vcpu.stats', receiver: 'vcpu', args: [], call: (_w, vcpu) => Object.keys(vcpu.stats()).length, weight: 0.3 },
    { name: 'Vcpu.running', receiver: 'vcpu', needsOpen: false, args: [], call: (_w, vcpu) => vcpu.running },
    { name: 'Vcpu.stop', receiver: 'vcpu', needsOpen: false, args: [], call: (_w, vcpu) => vcpu.stop(), weight: 0.2 },
    { name: 'Vcpu.close', receiver: 'vcpu', needsOpen: false, args: [], call: (_w, vcpu) => vcpu.close(), weight: 0.2 },
  ];
}

/** Attribute calls, on plain KVM devices and on KVM-VFIO devices. */
function attrTargets(receiver) {
  const group = u32([1, 2, 99]);
  const attr = u64([1, 2, 3, 99, 1n]);
  const value = {
    arb: fc.oneof(
      fc.constantFrom(undefined, 0n, 5n, 2n ** 64n - 1n),
      fc.record({ u64: fc.constantFrom(0n, 9999n, 2n ** 63n, -1n, 1.5) }),
      fc.record({ fd: fc.oneof(pick('table').arb, pick('container').arb, pick('probe').arb, pick('fd').arb, fc.constantFrom(-1, 9999, 2 ** 31)) }),
      junk,
    ),
    valid: (v) =>
      v === undefined || is.u64Big(v) || (is.plainObject(v) && ('u64' in v ? is.u64(v.u64) : 'fd' in v && (v.fd instanceof Object ? typeof v.fd.close === 'function' : is.integerIn(-1, FD_MAX)(v.fd)))),
  };
  return [
    { name: `${receiver}.hasAttr`, receiver, args: [group, attr], call: (_w, device, g, a) => device.hasAttr(g, a) },
    { name: `${receiver}.getAttr`, receiver, args: [group, attr], call: (_w, device, g, a) => device.getAttr(g, a) },
    {
      name: `${receiver}.setAttr`,
      receiver,
      args: [group, attr, value],
      skip: ([g, a, v], _world, device) => device.type === DeviceType.VFIO && g === 1 && (a === 1 || a === 1n) && addsUnlinkedGroup(device, payloadFd(v)),
      call: (_w, device, g, a, v) => device.setAttr(g, a, v),
      rawFd: true,
      nullPayload: ([, , v]) => v === undefined,
    },
    { name: `${receiver}.close`, receiver, needsOpen: false, args: [], call: (_w, device) => device.close(), weight: 0.2 },
  ];
}

/** KvmVfioDevice: groups and their links to TCE tables. */
function kvmVfioTargets() {
  const groupRef = refArg('group', VfioGroup);
  const tableRef = refArg('table', SpaprTceTable);
  return [
    ...attrTargets('kvmvfio'),
    {
      name: 'KvmVfioDevice.addGroup',
      receiver: 'kvmvfio',
      args: [groupRef],
      skip: ([ref], _world, device) => addsUnlinkedGroup(device, ref),
      call: (_w, device, ref) => device.addGroup(ref),
      rawFd: true,
    },
    { name: 'KvmVfioDevice.removeGroup', receiver: 'kvmvfio', args: [groupRef], call: (_w, device, ref) => device.removeGroup(ref), rawFd: true },
    { name: 'KvmVfioDevice.setSpaprTce', receiver: 'kvmvfio', args: [groupRef, tableRef], call: (_w, device, g, t) => device.setSpaprTce(g, t), rawFd: true },
    { name: 'KvmVfioDevice.supportsSpaprTce', receiver: 'kvmvfio', args: [], call: (_w, device) => device.supportsSpaprTce() },
    { name: 'KvmVfioDevice.hasGroup', receiver: 'kvmvfio', needsOpen: false, args: [anyArg()], call: (_w, device, ref) => device.hasGroup(ref) },
    { name: 'KvmVfioDevice.linkedTables', receiver: 'kvmvfio', needsOpen: false, args: [anyArg()], call: (_w, device, ref) => device.linkedTables(ref) },
    { name: 'KvmVfioDevice.unlinkedGroups', receiver: 'kvmvfio', needsOpen: false, args: [], call: (_w, device) => device.unlinkedGroups },
  ];
}

function anyArg() {
  return { arb: fc.oneof(pick('group').arb, junk), valid: () => true };
}

const memoryArg = pickOrJunk('memory', (value) => value instanceof GuestMemory);

/** VfioContainer: the sPAPR TCE IOMMU. */
function containerTargets() {
  const window = optionsArg({
    pageShift: integerArg(12, 63, fc.constantFrom(12, 16, 24, 13)),
    windowSize: bigArg(1n, 2n ** 64n - 1n, fc.constantFrom(GIB, 1n << 28n, 12345n)),
    levels: arg(is.optional(is.integerIn(1, 8)), fc.constantFrom(undefined, 1, 2), [0, 9]),
  });
  const dma = optionsArg(
    {
      memory: memoryArg,
      offset: arg(is.optional(is.u64Big), fc.constantFrom(undefined, 0n, PAGE)),
      iova: bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 1n << 20n, GIB, 2n ** 63n)),
      size: arg(is.optional(is.bigIn(1n, 2n ** 64n - 1n)), fc.constantFrom(undefined, PAGE, PAGE * 2n, PAGE * 100n)),
      read: arg(is.optional(is.boolean), fc.constantFrom(undefined, true, false)),
      write: arg(is.optional(is.boolean), fc.constantFrom(undefined, true, false)),
    },
    {
      valid: (options) => {
        const { memory, offset = 0n, size } = options;
        const length = size ?? memory.size - offset;
        return offset <= memory.size && length >= 1n && offset + length <= memory.size;
      },
    },
  );
  const unmap = optionsArg({ iova: bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, GIB)), size: bigArg(1n, 2n ** 64n - 1n, fc.constantFrom(PAGE, GIB)) });
  return [
    { name: 'VfioContainer.checkExtension', receiver: 'container', args: [u32([1, 2, 7, 99])], call: (_w, c, e) => c.checkExtension(e) },
    { name: 'VfioContainer.setIommu', receiver: 'container', args: [u32([2, 7, 1, 99])], call: (_w, c, t) => c.setIommu(t) },
    { name: 'VfioContainer.spaprInfo', receiver: 'container', args: [], call: (_w, c) => c.spaprInfo() },
    { name: 'VfioContainer.enable', receiver: 'container', args: [], call: (_w, c) => c.enable() },
    { name: 'VfioContainer.disable', receiver: 'container', args: [], call: (_w, c) => c.disable() },
    { name: 'VfioContainer.mapDma', receiver: 'container', args: [dma], call: (_w, c, o) => c.mapDma(o) },
    { name: 'VfioContainer.unmapDma', receiver: 'container', args: [unmap], call: (_w, c, o) => c.unmapDma(o) },
    { name: 'VfioContainer.registerMemory', receiver: 'container', args: [memoryArg], call: (_w, c, m) => c.registerMemory(m) },
    { name: 'VfioContainer.unregisterMemory', receiver: 'container', args: [memoryArg], call: (_w, c, m) => c.unregisterMemory(m) },
    {
      name: 'VfioContainer.createWindow',
      receiver: 'container',
      args: [window],
      skip: ([options]) => window.valid(options) && (options.windowSize > GIB || (options.levels ?? 1) > 2),
      call: (_w, c, o) => c.createWindow(o),
    },
    { name: 'VfioContainer.removeWindow', receiver: 'container', args: [bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 1n << 59n, 0x1000n))], call: (_w, c, s) => c.removeWindow(s) },
    {
      name: 'VfioContainer.eehPeOp',
      receiver: 'container',
      args: [u32([4, 2 ** 32 - 1])],
      skip: ([op]) => is.u32(op) && op !== 4 && op < 64, // only VFIO_EEH_PE_GET_STATE changes nothing
      call: (_w, c, op) => c.eehPeOp(op),
    },
    { name: 'VfioContainer.windows', receiver: 'container', needsOpen: false, args: [], call: (_w, c) => c.windows },
    { name: 'VfioContainer.close', receiver: 'container', needsOpen: false, args: [], call: (_w, c) => c.close(), weight: 0.2 },
  ];
}

/** VfioGroup and the device fds it hands out. */
function groupTargets() {
  return [
    { name: 'VfioGroup.status', receiver: 'group', args: [], call: (_w, g) => g.status },
    { name: 'VfioGroup.devices', receiver: 'group', args: [], call: (_w, g) => g.devices() },
    { name: 'VfioGroup.container', receiver: 'group', needsOpen: false, args: [], call: (_w, g) => g.container },
    {
      name: 'VfioGroup.setContainer',
      receiver: 'group',
      args: [pickOrJunk('container', (value) => value instanceof VfioContainer)],
      call: (_w, g, c) => g.setContainer(c),
    },
    { name: 'VfioGroup.unsetContainer', receiver: 'group', args: [], call: (_w, g) => g.unsetContainer(), weight: 0.3 },
    {
      name: 'VfioGroup.getDeviceFd',
      receiver: 'group',
      args: [arg((value) => is.path(value) && Buffer.byteLength(value) <= 62, fc.constantFrom(DEVICE_TESTDEV, DEVICE_EDU, 'nonexistent'), ['', 'a'.repeat(80), 'x\u0000'])],
      call: (_w, g, name) => g.getDeviceFd(name),
      keep: keepAs('vfiodevice'),
    },
    { name: 'VfioGroup.close', receiver: 'group', needsOpen: false, args: [], call: (_w, g) => g.close(), weight: 0.2 },
  ];
}

/** VfioDevice: reads only with valid arguments (writes and resets change the emulated device). */
function vfioDeviceTargets() {
  const width = arg((value) => [1, 2, 4, 8].includes(value), fc.constantFrom(1, 2, 4, 8), [3, 0, 16, 2.5]);
  const writeSkip = (widthIndex) => (args) => {
    const w = args[widthIndex];
    return [1, 2, 4, 8].includes(w) && args.slice(0, widthIndex).every((v) => typeof v === 'number' || typeof v === 'bigint');
  };
  return [
    { name: 'VfioDevice.info', receiver: 'vfiodevice', args: [], call: (_w, d) => d.info() },
    { name: 'VfioDevice.regionInfo', receiver: 'vfiodevice', args: [u32([0, 1, 7, 8, 99])], call: (_w, d, i) => d.regionInfo(i) },
    {
      name: 'VfioDevice.readConfig',
      receiver: 'vfiodevice',
      args: [integerArg(0, 0xfff, fc.constantFrom(0, 2, 4, 0x3c, 0xffc)), width],
      valid: ([offset, w]) => is.integerIn(0, 0xfff)(offset) && [1, 2, 4, 8].includes(w) && offset + w <= 256,
      skip: ([offset, w]) => is.integerIn(0, 0xfff)(offset) && [1, 2, 4, 8].includes(w) && offset + w > 256, // beyond this device's config space
      call: (_w, d, o, w) => d.readConfig(o, w),
    },
    {
      name: 'VfioDevice.read',
      receiver: 'vfiodevice',
      args: [u32([7, 0, 99]), bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 4n, 0xfffn)), width],
      valid: ([region, offset, w]) => region === 7 && is.bigIn(0n, 255n)(offset) && [1, 2, 4, 8].includes(w) && offset + BigInt(w) <= 256n,
      skip: ([region, offset, w]) => is.u32(region) && is.u64Big(offset) && [1, 2, 4, 8].includes(w) && !(region === 7 && offset + BigInt(w) <= 256n),
      call: (_w, d, r, o, w) => d.read(r, o, w),
    },
    {
      name: 'VfioDevice.write',
      receiver: 'vfiodevice',
      args: [u32([7]), bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n)), width, bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n))],
      valid: () => false,
      skip: (args) => writeSkip(2)(args) && is.u64Big(args[3]) && args[3] < 1n << BigInt(8 * args[2]) && is.u32(args[0]) && is.u64Big(args[1]),
      call: (_w, d, r, o, w, v) => d.write(r, o, w, v),
    },
    {
      name: 'VfioDevice.writeConfig',
      receiver: 'vfiodevice',
      args: [integerArg(0, 0xfff, fc.constantFrom(0)), width, integerArg(0, 2 ** 32 - 1, fc.constantFrom(0))],
      valid: () => false,
      skip: ([o, w, v]) => is.integerIn(0, 0xfff)(o) && [1, 2, 4, 8].includes(w) && is.u32(v),
      call: (_w, d, o, w, v) => d.writeConfig(o, w, v),
    },
    { name: 'VfioDevice.mapRegion', receiver: 'vfiodevice', args: [u32([0, 1, 7, 99])], call: (_w, d, i) => d.mapRegion(i), keep: keepAs('regionmapping') },
    { name: 'VfioDevice.reset', receiver: 'vfiodevice', args: [], skip: (_a, _w, d) => !d.closed, call: (_w, d) => d.reset() },
    { name: 'VfioDevice.close', receiver: 'vfiodevice', needsOpen: false, args: [], call: (_w, d) => d.close(), weight: 0.2 },
    { name: 'RegionMapping.buffer', receiver: 'regionmapping', args: [], call: (_w, m) => m.buffer.byteLength },
    { name: 'RegionMapping.close', receiver: 'regionmapping', needsOpen: false, args: [], call: (_w, m) => m.close() },
  ];
}

/** SpaprTceTable: reads through its mmap. */
function tableTargets() {
  const index = {
    arb: fc.oneof(fc.constantFrom(0, 1, 511, 512, -1, 1.5, 0n, 511n, 2n ** 64n, Number.NaN), junk),
    valid: () => true, // decided with the table's size below
  };
  return [
    {
      name: 'SpaprTceTable.read',
      receiver: 'table',
      args: [index],
      valid: ([i], _world, table) =>
        (typeof i === 'bigint' || (typeof i === 'number' && Number.isSafeInteger(i))) && BigInt(i) >= 0n && BigInt(i) < table.size,
      call: (_w, t, i) => t.read(i),
    },
    { name: 'SpaprTceTable.entries', receiver: 'table', args: [], call: (_w, t) => t.entries().length, weight: 0.3 },
    { name: 'SpaprTceTable.readIoba', receiver: 'table', args: [bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(0n, 0x1000n, GIB, 2n ** 64n - 1n))], call: (_w, t, a) => t.readIoba(a) },
    { name: 'SpaprTceTable.close', receiver: 'table', needsOpen: false, args: [], call: (_w, t) => t.close(), weight: 0.2 },
  ];
}

/** attachIommuGroup and Linkage; prepareDmaWindow (the same options but liobn) and GroupDmaWindow. */
function attachTargets() {
  const windowFields = {
    group: arg(
      (value) => value instanceof VfioGroup || is.integerIn(0, FD_MAX)(value) || is.path(value),
      fc.oneof(fc.constantFrom(3, 99, GROUP_TESTDEV, '/dev/vfio/3'), pick('group').arb),
    ),
    windowSize: bigArg(1n, 2n ** 64n - 1n, fc.constantFrom(GIB, 1n << 28n)),
    pageShift: arg(is.optional(is.integerIn(12, 34)), fc.constantFrom(undefined, 12, 16), [11, 35]),
    busOffset: arg(is.optional(is.u64Big), fc.constantFrom(undefined, 0n, 1n << 59n)),
    iommu: arg(is.optional((value) => value === 'v1' || value === 'v2'), fc.constantFrom(undefined, 'v1', 'v2'), ['v3']),
    memory: arg(is.optional((value) => value instanceof GuestMemory || (Array.isArray(value) && value.every((m) => m instanceof GuestMemory))), fc.oneof(fc.constant(undefined), pick('memory').arb)),
    container: arg(is.optional((value) => value instanceof VfioContainer), fc.oneof(fc.constant(undefined), pick('container').arb)),
    levels: arg(is.optional(is.integerIn(1, 8)), fc.constantFrom(undefined, 1), [0, 9]),
  };
  const pageMultiples = {
    valid: ({ windowSize, pageShift = 12, busOffset = 0n }) => {
      const page = 1n << BigInt(pageShift);
      return windowSize % page === 0n && busOffset % page === 0n;
    },
  };
  const liobn = bigArg(0n, 2n ** 64n - 1n, fc.constantFrom(LIOBN, LIOBN + 5n, LIOBN + 6n));
  const options = optionsArg({ group: windowFields.group, liobn, ...windowFields }, pageMultiples); // attach's keys in their old order
  const windowOptions = optionsArg(windowFields, pageMultiples);
  return [
    {
      name: 'attachIommuGroup',
      receiver: 'vm',
      args: [options],
      // Open groups are attached only where linking cannot fail (a failed link rolls back with a
      // GROUP_DEL of an unlinked group, which 6.12 WARNs about): the primary group in the primary VM,
      // and group numbers and paths, which get a container and window of their own.
      skip: ([o], world, vm) =>
        is.plainObject(o) &&
        ((o.group instanceof VfioGroup && (o.group !== world.primaryGroup || vm !== world.primaryVm)) ||
          (o.container instanceof VfioContainer && o.container.iommuType !== undefined)),
      call: (_w, vm, o) => attachIommuGroup(vm, o),
      keep: keepAs('linkage'),
      weight: 0.5,
    },
    { name: 'Linkage.close', receiver: 'linkage', needsOpen: false, args: [], call: (_w, l) => l.close(), weight: 0.3 },
    { name: 'Linkage[Symbol.dispose]', receiver: 'linkage', needsOpen: false, args: [], call: (_w, l) => l[Symbol.dispose](), weight: 0.2 },
    {
      name: 'prepareDmaWindow',
      args: [windowOptions],
      // Only groups it opens itself (numbers and paths): each gets a container and window of its own.
      skip: ([o]) => is.plainObject(o) && (o.group instanceof VfioGroup || (o.container instanceof VfioContainer && o.container.iommuType !== undefined)),
      call: (_w, _r, o) => prepareDmaWindow(o),
      keep: keepAs('dma window'),
      weight: 0.3,
    },
    { name: 'GroupDmaWindow.close', receiver: 'dma window', needsOpen: false, args: [], call: (_w, d) => d.close(), weight: 0.2 },
    { name: 'GroupDmaWindow[Symbol.dispose]', receiver: 'dma window', needsOpen: false, args: [], call: (_w, d) => d[Symbol.dispose](), weight: 0.1 },
  ];
}

/** Every target for the emulated POWER host. */
export function powerTargets() {
  return [
    ...staticTargets(),
    ...probeTargets(),
    ...memoryTargets(),
    ...kvmTargets(),
    ...vmTargets(),
    ...vcpuVmTargets(),
    ...vcpuTargets(),
    ...attrTargets('kvmdevice'),
    ...kvmVfioTargets(),
    ...containerTargets(),
    ...groupTargets(),
    ...vfioDeviceTargets(),
    ...tableTargets(),
    ...attachTargets(),
    ...vmmTargets(),
  ];
}
