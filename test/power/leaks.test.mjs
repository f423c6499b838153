// Leaks on the emulated POWER host: open/close cycles of every kernel object kind, attach/detach
// cycles of a VFIO group to a LIOBN, and objects dropped without close() (the finalizer closes
// them). Open fds, library fds and the library's mappings must come back exactly (the process's
// within a few: V8 and malloc move); RSS may grow by less than
// RSS_BOUND over a run and LATE_RSS_BOUND over its second half. npm test runs 200 cycles per kind,
// 1,000 attach/detach cycles with a 16 MiB window (~35 ms each) and 10 with a 1 GiB window (~470 ms
// each: the emulated platform builds a 256K-entry TCE table per window); `npm run test:leaks`
// runs 10,000 per kind and 200 with 1 GiB (KVM_VFIO_SPAPR_LEAK_CYCLES, KVM_VFIO_SPAPR_ATTACH_CYCLES,
// KVM_VFIO_SPAPR_ATTACH_CYCLES_1G).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Cap, DeviceType, EventFd, GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup, attachIommuGroup, pageSize, resourceStats,
} from '../../dist/index.js';
import { measureCycles, settle } from '../leaks/measure.mjs';
import { NEEDS_VFIO_GROUPS, DEVICE_EDU, GROUP_EDU, GROUP_TESTDEV, EXPECTED } from './helpers.mjs';

const CYCLES = Number(process.env.KVM_VFIO_SPAPR_LEAK_CYCLES ?? 200);
const ATTACH_CYCLES = Number(process.env.KVM_VFIO_SPAPR_ATTACH_CYCLES ?? 1000);
const ATTACH_CYCLES_1G = Number(process.env.KVM_VFIO_SPAPR_ATTACH_CYCLES_1G ?? 10);
// On PowerNV every open and close of a VFIO device resets it, and edu has no FLR, so it is a secondary
// bus reset through its root port (pci_reset_bus_function → pnv_pci_reset_secondary_bus,
// platforms/powernv/eeh-powernv.c, which holds and settles the link): 4.9 s for the open and 4.9 s
// for the close on the emulated powernv9, measured.
const DEVICE_CYCLES = EXPECTED.slowDeviceResets ? Math.min(CYCLES, 10) : CYCLES;
const DEVICE_WARMUP = EXPECTED.slowDeviceResets ? Math.min(5, DEVICE_CYCLES) : Math.min(50, DEVICE_CYCLES);
const RSS_BOUND = 16 * 1024 * 1024;
const LATE_RSS_BOUND = 4 * 1024 * 1024;
const LIOBN = 0x80000000n;
const GIB = 1n << 30n;
const PAGE = BigInt(pageSize());
const DROP_BATCH = 200;

function assertNoLeak(result) {
  assert.equal(result.after.fds, result.before.fds, 'open fds');
  assert.equal(result.after.ownedFds, result.before.ownedFds, 'library fds');
  assert.equal(result.after.libraryMappings, result.before.libraryMappings, 'library mappings');
  assert.ok(result.after.mappings <= result.before.mappings + 16, `process mappings ${result.before.mappings} -> ${result.after.mappings} (V8 and malloc move a few)`);
  assert.ok(result.rssGrowth < RSS_BOUND, `RSS grew ${result.rssGrowth} bytes`);
  assert.ok(result.steadyNativeGrowth < LATE_RSS_BOUND, `native memory (RSS beyond V8's heap) grew in both halves: ${result.earlyNativeGrowth} and ${result.lateNativeGrowth} bytes`);
  assert.ok(result.lateHeapUsedGrowth < LATE_RSS_BOUND, `the V8 heap in use grew ${result.lateHeapUsedGrowth} bytes over the second half`);
}

/** Runs `body(kvm, vm)` with a VM that outlives the cycles. */
async function withVm(body) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  try {
    return await body(kvm, vm);
  } finally {
    vm.close();
    kvm.close();
  }
}

describe(`leaks on the emulated POWER host: ${CYCLES} open/close cycles per kind`, NEEDS_VFIO_GROUPS, () => {
  const kinds = [
    ['Kvm.open + close', () => Kvm.open().close()],
    ['Kvm.createVm + close', (kvm) => kvm.createVm().close()],
    ['Vm.createVfioDevice + supportsSpaprTce + close', (_kvm, vm) => {
      const device = vm.createVfioDevice();
      device.supportsSpaprTce();
      device.close();
    }],
    ['Vm.createSpaprTceTable + read (mmap) + close', (_kvm, vm) => {
      const table = vm.createSpaprTceTable({ liobn: LIOBN, size: 512n });
      table.read(0);
      table.close();
    }],
    ['VfioContainer.open + checkExtension + close', () => {
      const container = VfioContainer.open();
      container.checkExtension(IommuType.SPAPR_TCE_V2);
      container.close();
    }],
    ['VfioGroup.open + status + close', () => {
      const group = VfioGroup.open(GROUP_TESTDEV);
      void group.status;
      group.close();
    }],
    ['EventFd + Vm.ioeventfd + removeIoeventfd + close', (_kvm, vm) => {
      const doorbell = EventFd.create();
      vm.ioeventfd({ eventFd: doorbell, address: 0x2000_0000n, length: 4 });
      vm.removeIoeventfd({ eventFd: doorbell, address: 0x2000_0000n, length: 4 });
      doorbell.close();
    }],
    ['a VM with an XICS device, a connected vCPU and an irqfd + close', (kvm) => {
      const vm = kvm.createVm(); // one XICS device and one vCPU 0 per VM
      const xics = vm.createDevice(DeviceType.XICS);
      const vcpu = vm.createVcpu(0);
      vcpu.enableCap(Cap.PPC_PAPR);
      vcpu.connectXics(xics, 0);
      const doorbell = EventFd.create();
      vm.irqfd({ eventFd: doorbell, gsi: 0x1000 });
      vm.removeIrqfd({ eventFd: doorbell, gsi: 0x1000 });
      doorbell.close();
      vcpu.close();
      xics.close();
      vm.close();
    }],
    ['GuestMemory.allocate + close', () => {
      const memory = GuestMemory.allocate(PAGE * 4n);
      new Uint8Array(memory.buffer)[0] = 1;
      memory.close();
    }],
  ];
  for (const [name, cycle] of kinds) {
    it(name, () => withVm(async (kvm, vm) => assertNoLeak(await measureCycles(name, CYCLES, () => cycle(kvm, vm), { warmup: Math.min(50, CYCLES) }))));
  }

  it(`VfioDevice + mapRegion(BAR0) + close (edu, group 2)${DEVICE_CYCLES < CYCLES ? `: ${DEVICE_CYCLES} cycles (each resets the device's bus on PowerNV)` : ''}`, async () => {
    const container = VfioContainer.open();
    const group = VfioGroup.open(GROUP_EDU);
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2);
    try {
      const result = await measureCycles('VfioGroup.getDeviceFd + mapRegion + close', DEVICE_CYCLES, () => {
        const device = group.getDeviceFd(DEVICE_EDU);
        const bar = device.mapRegion(0);
        assert.ok(bar.buffer.byteLength > 0);
        bar.close();
        device.close();
      }, { warmup: DEVICE_WARMUP });
      assertNoLeak(result);
    } finally {
      group.close();
      container.close();
    }
  });

  it('VfioContainer.registerMemory + unregisterMemory (v2)', async () => {
    const container = VfioContainer.open();
    const group = VfioGroup.open(GROUP_TESTDEV);
    group.setContainer(container);
    container.setIommu(IommuType.SPAPR_TCE_V2);
    const memory = GuestMemory.allocate(PAGE * 16n);
    try {
      const result = await measureCycles('registerMemory + unregisterMemory', CYCLES, () => {
        container.registerMemory(memory);
        container.unregisterMemory(memory);
      }, { warmup: Math.min(50, CYCLES) });
      assertNoLeak(result);
      assert.deepEqual(memory.users, []);
    } finally {
      memory.close();
      group.close();
      container.close();
    }
  });
});

describe('leaks on the emulated POWER host: attach/detach cycles', () => {
  for (const [cycles, windowSize, label] of [[ATTACH_CYCLES, 1n << 24n, '16 MiB'], [ATTACH_CYCLES_1G, GIB, '1 GiB']]) {
    it(`${cycles} × attachIommuGroup (v2, registered memory, ${label} window) + read + close: back to exactly the state before`, NEEDS_VFIO_GROUPS, () => withVm(async (_kvm, vm) => {
      const memory = GuestMemory.allocate(PAGE * 64n);
      try {
        const result = await measureCycles(`attachIommuGroup (${label} window) + close`, cycles, () => {
          const linkage = attachIommuGroup(vm, { group: GROUP_TESTDEV, liobn: LIOBN, windowSize, memory });
          assert.equal(linkage.table.read(0), 0n);
          linkage.close();
        }, { warmup: Math.min(20, cycles) });
        assertNoLeak(result);
        assert.deepEqual(memory.users, []);
        assert.equal(vm.vfioDevice, undefined); // the device the attaches made was released every time
      } finally {
        memory.close();
      }
    }));
  }
});

describe('objects dropped without close(): the finalizer closes their fds', NEEDS_VFIO_GROUPS, () => {
  it(`${CYCLES} VMs, tables and groups dropped: every fd is closed by the finalizer`, async () => {
    const before = resourceStats();
    const warnings = [];
    const onWarning = (warning) => warnings.push(warning);
    process.on('warning', onWarning);
    const kvm = Kvm.open();
    // In batches, with the event loop turning in between (finalizers run there, as in a VMM): the
    // dropped fds of 10,000 cycles at once would pass RLIMIT_NOFILE before any finalizer ran.
    for (let done = 0; done < CYCLES; done += DROP_BATCH) {
      (() => {
        for (let i = done; i < Math.min(CYCLES, done + DROP_BATCH); i += 1) {
          const vm = kvm.createVm();
          vm.createSpaprTceTable({ liobn: LIOBN, size: 512n }).read(0);
          VfioGroup.open(GROUP_TESTDEV).close(); // a group is opened once: close it, drop the VM and table
        }
      })();
      await settle();
    }
    kvm.close();
    for (let i = 0; i < 50 && resourceStats().ownedFds > before.ownedFds; i += 1) await settle();
    process.off('warning', onWarning);
    assert.equal(resourceStats().ownedFds, before.ownedFds);
    assert.equal(resourceStats().closedByFinalizer - before.closedByFinalizer, 2 * CYCLES);
    assert.ok(warnings.filter((w) => w.code === 'KVM_VFIO_SPAPR_UNCLOSED').length <= 2, 'one warning per kind at most');
  });
});
