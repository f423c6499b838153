// A worker of processes.test.mjs: drives a VM of its own (tables, a linkage of its VFIO group) and
// reports what it did. workerData: { group, liobn, rounds }.
import { parentPort, workerData } from 'node:worker_threads';
import { Cap, GuestMemory, Kvm, attachIommuGroup, pageSize, resourceStats } from '../../../dist/index.js';

const { group, liobn, rounds } = workerData;
const kvm = Kvm.open();
const vm = kvm.createVm();
const memory = GuestMemory.allocate(BigInt(pageSize()) * 16n);
let reads = 0;
for (let round = 0; round < rounds; round += 1) {
  const table = vm.createSpaprTceTable({ liobn: liobn + 0x100n + BigInt(round), size: 512n });
  reads += table.read(511) === 0n ? 1 : 0;
  table.close();
  if (vm.checkExtension(Cap.SPAPR_TCE_VFIO) !== 1) throw new Error('SPAPR_TCE_VFIO is 0');
  const linkage = attachIommuGroup(vm, { group, liobn, windowSize: 1n << 24n, memory });
  reads += linkage.table.read(0) === 0n ? 1 : 0;
  linkage.close();
}
memory.close();
vm.close();
kvm.close();
parentPort.postMessage({ group, reads, ownedFds: resourceStats().ownedFds });
