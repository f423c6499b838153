// Leaks on this machine: 10,000 open/close cycles of every object kind that exists without KVM and
// VFIO (FdProbe, the FdObject machinery; GuestMemory, a mapping shared with JavaScript; the open
// paths that fail after opening), then the same objects dropped without close(): the finalizers
// release them. Open fds, library fds and mappings must come back exactly. RSS may grow by less
// than RSS_BOUND over a run (the V8 heap and JIT code grow to their working size) and by less than
// LATE_RSS_BOUND over its second half (a leak of 1 KiB per cycle would add 5 MiB there).
// KVM_VFIO_SPAPR_LEAK_CYCLES changes the count.
import { closeSync, openSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestMemory, Kvm, VfioContainer, VfioGroup, pageSize, resourceStats } from '../dist/index.js';
import { FdProbe } from '../dist/internal/bench-probe.js';
import { measureCycles, settle } from './leaks/measure.mjs';

const CYCLES = Number(process.env.KVM_VFIO_SPAPR_LEAK_CYCLES ?? 10_000);
/** Under AddressSanitizer (npm run test:asan) the allocator quarantines freed memory and maps shadow: only fds are compared. */
const SANITIZED = process.env.ASAN_OPTIONS !== undefined;
const RSS_BOUND = 16 * 1024 * 1024;
const LATE_RSS_BOUND = 4 * 1024 * 1024;
const PAGE = BigInt(pageSize());

let devNull = -1;
beforeAll(() => {
  devNull = openSync('/dev/null', 'r');
});
afterAll(() => closeSync(devNull));

function expectNoLeak(result: Awaited<ReturnType<typeof measureCycles>>) {
  expect(result.after.fds).toBe(result.before.fds);
  expect(result.after.ownedFds).toBe(result.before.ownedFds);
  if (SANITIZED) return;
  expect(result.after.mappings).toBeLessThanOrEqual(result.before.mappings + 2); // V8 may map a heap page
  expect(result.rssGrowth).toBeLessThan(RSS_BOUND);
  expect(result.lateRssGrowth).toBeLessThan(LATE_RSS_BOUND);
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
    for (let i = 0; i < 20 && result.after.mappings > result.before.mappings + 2; i += 1) await settle();
    expectNoLeak(result);
  }, 300_000);
});
