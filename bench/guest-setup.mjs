// Setup cost and event-loop stalls on the emulated POWER host.
//  - attachIommuGroup + detach: time per cycle, and the syscalls of one cycle (traceSyscalls)
//    against the minimal sequence of shared/notes/kernel-abi.md §6;
//  - the worst event-loop delay (perf_hooks.monitorEventLoopDelay) while 1 GiB of guest memory is
//    registered (v2) and while a DMA window is created, with the sync and the async variants.
import { GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup, attachIommuGroup, traceSyscalls } from '../dist/index.js';
import { loopDelayDuring, median, sleep, summarizeDelays } from './measure.mjs';

const LIOBN = 0x80000000n;
const GIB = 1n << 30n;

/**
 * kernel-abi.md §6 for a v2 container with guest memory (steps 1-8). Step 4 opens the group and,
 * implicitly, /dev/vfio/vfio (SET_CONTAINER needs a container); step 6's mmap of the table is left
 * to the first read by the library, so it is not part of attach.
 */
export const MINIMAL_ATTACH = [
  'KVM_CHECK_EXTENSION', 'KVM_CHECK_EXTENSION', 'KVM_CHECK_EXTENSION',
  'KVM_CREATE_DEVICE', 'KVM_HAS_DEVICE_ATTR',
  'open', 'VFIO_GROUP_GET_STATUS', 'open', 'VFIO_GROUP_SET_CONTAINER', 'VFIO_SET_IOMMU',
  'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', 'VFIO_IOMMU_SPAPR_TCE_CREATE',
  'KVM_CREATE_SPAPR_TCE_64',
  'KVM_SET_DEVICE_ATTR', // FILE_ADD
  'KVM_SET_DEVICE_ATTR', // SET_SPAPR_TCE
];

/** What the kernel needs to undo attach when the linkage owns the group and container: closing them undoes the rest. */
export const MINIMAL_DETACH = ['KVM_SET_DEVICE_ATTR', 'close', 'close', 'close', 'close'];

const names = (syscalls) => syscalls.map((record) => record.request ?? record.syscall);

/** Multiset difference a − b. */
function minus(a, b) {
  const left = [...b];
  return a.filter((name) => {
    const index = left.indexOf(name);
    if (index < 0) return true;
    left.splice(index, 1);
    return false;
  });
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** attach + detach on one VM: the syscalls of the first cycle, then the median times of `cycles` more. */
export function measureSetup({ group, cycles }) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(64n << 20n);
  const options = { group, liobn: LIOBN, windowSize: GIB, memory };
  const attach = traceSyscalls(() => attachIommuGroup(vm, options));
  if (attach.error) throw attach.error;
  const detach = traceSyscalls(() => attach.result.close());
  if (detach.error) throw detach.error;
  const attachMs = [];
  const detachMs = [];
  let repeatSyscalls;
  for (let i = 0; i < cycles; i += 1) {
    const started = nowMs();
    const traced = traceSyscalls(() => attachIommuGroup(vm, options));
    const attached = nowMs();
    traced.result.close();
    attachMs.push(attached - started);
    detachMs.push(nowMs() - attached);
    repeatSyscalls ??= names(traced.syscalls);
  }
  memory.close();
  vm.close();
  kvm.close();
  const attachNames = names(attach.syscalls);
  const detachNames = names(detach.syscalls);
  return {
    group,
    windowBytes: Number(GIB),
    memoryBytes: 64 << 20,
    cycles,
    attachMs: median(attachMs),
    detachMs: median(detachMs),
    cycleMs: median(attachMs.map((ms, i) => ms + detachMs[i])),
    attachSyscalls: attachNames,
    detachSyscalls: detachNames,
    repeatAttachSyscalls: repeatSyscalls,
    minimalAttach: MINIMAL_ATTACH,
    extraAttach: minus(attachNames, MINIMAL_ATTACH),
    missingAttach: minus(MINIMAL_ATTACH, attachNames),
    minimalDetach: MINIMAL_DETACH,
    extraDetach: minus(detachNames, MINIMAL_DETACH),
  };
}

/** A v2 container holding `group` (the default window still pending). */
function v2Container(groupNumber) {
  const container = VfioContainer.open();
  const group = VfioGroup.open(groupNumber);
  group.setContainer(container);
  container.setIommu(IommuType.SPAPR_TCE_V2);
  return {
    container,
    close() {
      group.close();
      container.close();
    },
  };
}

/** One pass: register 1 GiB and create a 1 GiB window in a fresh v2 container, `variant` sync or async. */
async function eventLoopPass(group, variant, record) {
  const { container, close } = v2Container(group);
  const memory = GuestMemory.allocate(GIB); // fresh pages each pass: registration faults and pins all of them
  try {
    record(`register-${variant}`, await loopDelayDuring(variant === 'sync' ? () => container.registerMemory(memory) : () => container.registerMemoryAsync(memory)));
    container.removeWindow(0n); // the pending default window, as attach does
    const request = { pageShift: 12, windowSize: GIB };
    let created;
    const create = variant === 'sync'
      ? () => { created = container.createWindow(request); }
      : async () => { created = await container.createWindowAsync(request); };
    record(`window-${variant}`, await loopDelayDuring(create));
    record(`remove-${variant}`, await loopDelayDuring(variant === 'sync'
      ? () => container.removeWindow(created.startAddr)
      : () => container.removeWindowAsync(created.startAddr)));
    container.unregisterMemory(memory);
  } finally {
    memory.close();
    close();
  }
}

const EVENT_LOOP_ROWS = {
  idle: 'idle event loop (baseline: the timer alone, as long as the async registration)',
  'register-sync': 'registerMemory (sync), 1 GiB',
  'register-async': 'registerMemoryAsync, 1 GiB',
  'window-sync': 'createWindow (sync), 1 GiB window of 4 KiB IOMMU pages',
  'window-async': 'createWindowAsync, 1 GiB window of 4 KiB IOMMU pages',
  'remove-sync': 'removeWindow (sync), 1 GiB window: the kernel clears and frees its TCE table',
  'remove-async': 'removeWindowAsync, 1 GiB window',
};

/**
 * Event-loop delay while registering 1 GiB and creating a 1 GiB DMA window, sync and async, `reps`
 * times each, with an idle baseline of the same length in every rep (timer noise of the emulated
 * host). Per row: the worst delay over all reps and the median of the reps' worst delays.
 */
export async function measureEventLoop({ group, reps = 3 }) {
  const samples = new Map(Object.keys(EVENT_LOOP_ROWS).map((key) => [key, []]));
  const record = (key, value) => samples.get(key).push(value);
  for (let rep = 0; rep < reps; rep += 1) {
    await eventLoopPass(group, 'sync', record);
    await eventLoopPass(group, 'async', record);
    const asyncMs = samples.get('register-async').at(-1).operationMs;
    record('idle', await loopDelayDuring(() => sleep(asyncMs)));
  }
  return summarizeDelays(samples, EVENT_LOOP_ROWS);
}
