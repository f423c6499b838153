// An example VMM flow: create a VM, link a VFIO group to a LIOBN so the host kernel handles the
// guest's TCE hypercalls, print the linkage, read the TCE table, detach.
//
// On a POWER host (root, a PCI device bound to vfio-pci):   node dist/examples/attach-vfio-group.js [group]
// On this project's emulated POWER host:                     npm run demo
import { GuestMemory, Kvm, attachIommuGroup, pageSize } from 'kvm-vfio-spapr';

const LIOBN = 0x80000000n;
const WINDOW = 1n << 30n;

function step<T>(label: string, action: () => T): T {
  const started = performance.now();
  const result = action();
  console.log(`  ${label.padEnd(52)} ${(performance.now() - started).toFixed(1).padStart(8)} ms`);
  return result;
}

const groupNumber = Number(process.argv[2] ?? 1);
console.log(`attach VFIO group ${groupNumber} to LIOBN 0x${LIOBN.toString(16)}:`);
const kvm = step('open /dev/kvm', () => Kvm.open());
const vm = step('create a VM', () => kvm.createVm());
const memory = step('allocate 64 MiB of guest memory', () => GuestMemory.allocate(64n << 20n));
new Uint8Array(memory.buffer).fill(0xa5, 0, pageSize());

const linkage = step(`attachIommuGroup (group ${groupNumber}, v2, 1 GiB window)`, () =>
  attachIommuGroup(vm, { group: groupNumber, liobn: LIOBN, windowSize: WINDOW, memory }),
);
console.log(`  linkage: liobn 0x${linkage.liobn.toString(16)} ↔ ${linkage.group.target}`);
console.log(`    container: IOMMU type ${linkage.container.iommuType}, window 0x${linkage.window.startAddr.toString(16)} + 0x${linkage.window.windowSize.toString(16)} (page shift ${linkage.window.pageShift})`);
console.log(`    table: ${linkage.table.size} TCEs of ${1 << linkage.table.pageShift} bytes, flags ${JSON.stringify(linkage.flags)}`);
const entries = step('read the TCE table through its mmap', () => linkage.table.entries());
console.log(`    ${entries.length} entries, ${entries.filter((tce) => tce !== 0n).length} mapped (the guest has not run)`);

step('detach (unlink, remove window, unregister, unset)', () => linkage.close());
memory.close();
vm.close();
kvm.close();
console.log('done');
