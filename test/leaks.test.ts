// Leaks on this machine: 10,000 open/close cycles of every object kind that exists without KVM and
// VFIO (FdProbe, the FdObject machinery; GuestMemory, a mapping shared with JavaScript; the open
// paths that fail after opening), then the same objects dropped without close(): the finalizers
// release them. Where the machine has a usable x86 /dev/kvm, the KVM objects too: Kvm, VMs with a
// memslot, vCPUs with their kvm_run mapping, and KVM-VFIO devices (1,000 cycles: each close waits
// for an RCU grace period, so they close with closeAsync, 16 at a time).
// Open fds, library fds and the library's mappings must come back exactly, the process's mappings
// within a few (V8 and malloc move). RSS may grow by less
// than RSS_BOUND over a run (the V8 heap and JIT code grow to their working size); over its second
// half, the V8 heap in use may grow by less than LATE_RSS_BOUND (a leak of 1 KiB per cycle would add
// 5 MiB there), and native memory (RSS beyond V8's heap reservation) by less than that in at least
// one half: a leak grows in both, a one-off step of malloc's working size in one.
// KVM_VFIO_SPAPR_LEAK_CYCLES changes the count.
import { closeSync, openSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cap, EventFd, GuestMemory, Kvm, KvmVfioAttr, VfioContainer, VfioGroup, type Vm, pageSize, resourceStats } from '../dist/index.js';
import { FdProbe } from '../bench/probe.mjs';
import { x86KvmUnavailable } from './helpers.js';
import { measureCycles, settle } from './leaks/measure.mjs';

const CYCLES = Number(process.env.KVM_VFIO_SPAPR_LEAK_CYCLES ?? 10_000);
/** Under AddressSanitizer (npm run test:asan) the allocator quarantines freed memory and maps shadow: only fds are compared. */
const SANITIZED = process.env.ASAN_OPTIONS !== undefined;
const RSS_BOUND = 16 * 1024 * 1024;
const LATE_RSS_BOUND = 4 * 1024 * 1024;
/**
 * V8's large-object and code spaces and malloc's arenas map and unmap as the heap moves, and a libuv
 * pool thread started mid-run (closeAsync) adds its stack, guard and arena; a leaked mapping per
 * cycle would add a thousand. One CI-like run saw +28 over 1,000 closeAsync cycles, libraryMappings unchanged.
 */
const PROCESS_MAPPINGS_SLACK = 64;
const PAGE = BigInt(pageSize());
const DEVICE_CYCLES = Math.max(1, Math.round(CYCLES / 10));
const DEVICES_IN_FLIGHT = 16;
const kvmUnavailable = await x86KvmUnavailable();

let devNull = -1;
beforeAll(() => {
  devNull = openSync('/dev/null', 'r');
});
afterAll(() => closeSync(devNull));

function expectNoLeak(result: Awaited<ReturnType<typeof measureCycles>>) {
  expect(result.after.fds).toBe(result.before.fds);
  expect(result.after.ownedFds).toBe(result.before.ownedFds);
  if (SANITIZED) return;
  expect(result.after.libraryMappings).toBe(result.before.libraryMappings);
  expect(result.after.mappings).toBeLessThanOrEqual(result.before.mappings + PROCESS_MAPPINGS_SLACK);
  expect(result.rssGrowth).toBeLessThan(RSS_BOUND);
  expect(result.steadyNativeGrowth).toBeLessThan(LATE_RSS_BOUND);
  expect(result.lateHeapUsedGrowth).toBeLessThan(LATE_RSS_BOUND);
}

const refused = (fn: () => unknown) => () => {
  try {
    fn();
  } catch {
    return;
  }
  throw new Error('expected the open to fail');
};

describe(`${CYCLES} open/close cycles per object kind`, () => {
  it.each([
    ['FdProbe.adopt + readableBytes + close', () => {
      const probe = FdProbe.adopt(devNull);
      try {
        probe.readableBytes();
      } catch {
        // ENOTTY on /dev/null: the error path is part of the cycle
      }
      probe.close();
    }],
    ['GuestMemory.allocate (4 pages, written) + close', () => {
      const memory = GuestMemory.allocate(PAGE * 4n);
      new Uint8Array(memory.buffer).fill(1);
      memory.close();
    }],
    ['EventFd.create + signal + read + close', () => {
      const doorbell = EventFd.create();
      doorbell.signal(3n);
      doorbell.read();
      doorbell.close();
    }],
    ['EventFd.create + watch (a libuv poll) + close', () => {
      const doorbell = EventFd.create();
      doorbell.watch(() => {});
      doorbell.close();
    }],
    ['Kvm.open on a file that is not /dev/kvm (open, ioctl, close)', refused(() => Kvm.open('/dev/null'))],
    ['VfioContainer.fromFd on a file that is not a container (dup, ioctl, close)', refused(() => VfioContainer.fromFd(devNull))],
    ['VfioGroup.open on a file that is not a group (open, ioctl, close)', refused(() => VfioGroup.open('/dev/null'))],
  ])('%s', async (name, cycle) => {
    expectNoLeak(await measureCycles(name, CYCLES, cycle));
  }, 300_000);
});

describe(`${CYCLES} objects dropped without close(): the finalizer releases them`, () => {
  it('FdProbe: every fd is closed by the finalizer', async () => {
    const before = resourceStats();
    const warnings: unknown[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const result = await measureCycles('FdProbe.adopt, dropped', CYCLES, () => {
      FdProbe.adopt(devNull);
    }, { warmup: 0 });
    for (let i = 0; i < 20 && resourceStats().ownedFds > before.ownedFds; i += 1) await settle();
    process.off('warning', onWarning);
    expect(resourceStats().ownedFds).toBe(before.ownedFds);
    expect(resourceStats().closedByFinalizer - before.closedByFinalizer).toBe(CYCLES);
    expect(result.after.fds).toBeLessThanOrEqual(result.before.fds); // the rest are closed by now too
  }, 300_000);

  it('GuestMemory: every mapping is unmapped when its buffer and handle are collected', async () => {
    const result = await measureCycles('GuestMemory.allocate, dropped', CYCLES, () => {
      new Uint8Array(GuestMemory.allocate(PAGE * 4n).buffer)[0] = 1;
    }); // after the default warm-up: the heap and malloc's arenas reach their working size first
    for (let i = 0; i < 20 && resourceStats().mappings > result.before.libraryMappings; i += 1) await settle();
    const unmapped = resourceStats().mappings; // each finalizer unmaps once its buffer and handle are gone
    expect(unmapped).toBe(result.before.libraryMappings);
    expectNoLeak({ ...result, after: { ...result.after, libraryMappings: unmapped } });
  }, 300_000);
});

describe.skipIf(kvmUnavailable !== undefined)(`KVM objects on this x86 host's /dev/kvm${kvmUnavailable ? ` — ${kvmUnavailable}` : ''}`, () => {
  let kvm: Kvm;
  beforeAll(() => {
    kvm = Kvm.open();
  });
  afterAll(() => kvm.close());

  it.each([
    [`${CYCLES} × Kvm.open + checkExtension + close`, () => {
      const system = Kvm.open();
      system.checkExtension(Cap.DEVICE_CTRL);
      system.close();
    }],
    [`${CYCLES} × createVm + a 4-page memslot + close (memory first: it deletes its slot)`, () => {
      const vm = kvm.createVm();
      const memory = GuestMemory.allocate(PAGE * 4n);
      vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
      memory.close();
      vm.close();
    }],
    [`${CYCLES} × createVm + createVcpu (kvm_run mapped) + stats + close`, () => {
      const vm = kvm.createVm();
      const vcpu = vm.createVcpu(0);
      vcpu.stats();
      vcpu.close();
      vm.close();
    }],
  ])('%s', async (name, cycle) => {
    expectNoLeak(await measureCycles(name, CYCLES, cycle));
  }, 300_000);

  it(`${DEVICE_CYCLES} × createVfioDevice + hasAttr + closeAsync, ${DEVICES_IN_FLIGHT} closes in flight (on ${DEVICES_IN_FLIGHT} VMs)`, async () => {
    const vms: Vm[] = Array.from({ length: DEVICES_IN_FLIGHT }, () => kvm.createVm());
    const closing: Promise<void>[] = [];
    try {
      const result = await measureCycles('KVM-VFIO device with closeAsync', DEVICE_CYCLES, async (i) => {
        const slot = i % DEVICES_IN_FLIGHT;
        await closing[slot]; // the VM's previous device is released: a new one may be created
        const device = vms[slot]!.createVfioDevice();
        device.hasAttr(KvmVfioAttr.GROUP, KvmVfioAttr.GROUP_ADD);
        closing[slot] = device.closeAsync();
      }, { warmup: DEVICES_IN_FLIGHT * 4, drain: () => Promise.all(closing) });
      expectNoLeak(result);
    } finally {
      await Promise.all(closing);
      for (const vm of vms) vm.close();
    }
  }, 300_000);

  it(`${DEVICE_CYCLES} VMs dropped without close(): the finalizer closes their fds`, async () => {
    const before = resourceStats();
    const result = await measureCycles('Vm, dropped', DEVICE_CYCLES, async (i) => {
      kvm.createVm().checkExtension(Cap.DEVICE_CTRL);
      if (i % 200 === 199) await settle(); // finalizers run as the event loop turns, before RLIMIT_NOFILE is near
    }, { warmup: 0 });
    for (let i = 0; i < 20 && resourceStats().ownedFds > before.ownedFds; i += 1) await settle();
    expect(resourceStats().ownedFds).toBe(before.ownedFds);
    expect(resourceStats().closedByFinalizer - before.closedByFinalizer).toBe(DEVICE_CYCLES);
    expect(result.after.fds).toBeLessThanOrEqual(result.before.fds);
  }, 300_000);
});
