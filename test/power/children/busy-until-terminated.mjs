// A worker of processes.test.mjs that is terminated in the middle of its calls: it links a VFIO
// group, then loops over synchronous and asynchronous calls (a DMA window and a memory
// registration on the thread pool, a group attach) until the parent terminates it.
import { parentPort } from 'node:worker_threads';
import { Cap, GuestMemory, IommuType, Kvm, VfioContainer, VfioGroup, attachIommuGroup, pageSize } from '../../../dist/index.js';

const kvm = Kvm.open();
const vm = kvm.createVm();
const memory = GuestMemory.allocate(BigInt(pageSize()) * 16n);
const linkage = attachIommuGroup(vm, { group: 1, liobn: 0x80000000n, windowSize: 1n << 24n, memory });
let round = 0;
for (;;) {
  const table = vm.createSpaprTceTable({ liobn: 0x81000000n + BigInt(round % 64), size: 512n });
  table.read(0);
  vm.checkExtension(Cap.SPAPR_TCE_64);
  const container = VfioContainer.open();
  const group = VfioGroup.open(2);
  await group.setContainerAsync(container);
  container.setIommu(IommuType.SPAPR_TCE_V2);
  const pending = [container.registerMemoryAsync(memory), container.createWindowAsync({ pageShift: 12, windowSize: 1n << 24n, levels: 1 })];
  if (round === 0) parentPort.postMessage({ started: true, linked: linkage.table.liobn.toString(16) });
  await Promise.allSettled(pending);
  table.close();
  group.close();
  container.close();
  round += 1;
}
