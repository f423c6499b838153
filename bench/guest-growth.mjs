// Memory and growth on the emulated POWER host: create/close cycles of every object kind, and
// attach/detach cycles, each for as many cycles as its time budget allows (the count is reported).
import { GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup, attachIommuGroup } from '../dist/index.js';
import { measureGrowth } from './growth.mjs';

const LIOBN = 0x80000000n;
const WINDOW = 16n << 20n;
const TESTDEV = '0001:00:00.0'; // the pci-testdev of group 1

/** The kinds, each { name, cycle(i), close() }: setup they share is made once, outside the cycles. */
function kinds() {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(16n << 20n);
  return {
    list: [
      { name: 'Kvm.open then close', cycle: () => Kvm.open().close() },
      { name: 'kvm.createVm then close', cycle: () => kvm.createVm().close() },
      { name: 'vm.createVfioDevice (KVM-VFIO device) then close', cycle: () => vm.createVfioDevice().close() },
      {
        name: 'vm.createSpaprTceTable (16 MiB window), table.read(0) (mmap), close',
        cycle: (i) => {
          const table = vm.createSpaprTceTable({ liobn: 0x1000n + BigInt(i & 0xff), size: WINDOW >> 12n });
          table.read(0);
          table.close();
        },
      },
      { name: 'VfioContainer.open then close', cycle: () => VfioContainer.open().close() },
      { name: 'VfioGroup.open(1) then close', cycle: () => VfioGroup.open(1).close() },
      {
        name: 'group.getDeviceFd (VFIO device fd) then close',
        setup() {
          const container = VfioContainer.open();
          const group = VfioGroup.open(1);
          group.setContainer(container);
          container.setIommu(IommuType.SPAPR_TCE_V2);
          this.cycle = () => group.getDeviceFd(TESTDEV).close();
          this.close = () => {
            group.close();
            container.close();
          };
        },
      },
      {
        name: 'kvm.createVm + vm.createVcpu(0) (kvm_run mapped), both closed',
        cycle: () => {
          const ownVm = kvm.createVm();
          ownVm.createVcpu(0).close();
          ownVm.close();
        },
      },
      { name: 'GuestMemory.allocate (1 MiB), one byte written, close', cycle: (i) => { const m = GuestMemory.allocate(1n << 20n); new Uint8Array(m.buffer)[i & 0xff] = 1; m.close(); } },
      {
        name: 'attachIommuGroup (group 1, 16 MiB window, 16 MiB registered) then detach',
        cycles: 1_000, // the count; ~50 ms each
        cycle: () => attachIommuGroup(vm, { group: 1, liobn: LIOBN, windowSize: WINDOW, memory }).close(),
      },
    ],
    close() {
      memory.close();
      vm.close();
      kvm.close();
    },
  };
}

/** Growth of every kind: as many cycles as `budgetMs` allows, at most `maxCycles`; attach/detach 1,000 cycles. */
export async function measureGuestGrowth({ budgetMs, maxCycles }) {
  const { list, close } = kinds();
  const results = [];
  for (const kind of list) {
    kind.setup?.();
    results.push(await measureGrowth(kind, kind.cycles ? { cycles: kind.cycles } : { cycles: maxCycles, budgetMs }));
    kind.close?.();
  }
  close();
  return results;
}
