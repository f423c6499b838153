// The effect the library exists for, on a POWER host: a tiny L2 guest makes N H_PUT_TCE hypercalls
//   A  with no in-kernel table for its LIOBN: every one exits to this program;
//   B  with an in-kernel table: none does, and the table holds what the guest wrote;
//   C  with a VFIO group linked to the LIOBN: none does, and the device DMAs through the mappings.
//
// On a POWER host (root; group 2 = a device you may DMA with, here QEMU's edu):
//   node dist/examples/tce-acceleration.js [group] [device]
// On this project's emulated POWER host: npm run demo
import { GuestMemory, Kvm, VfioGroup, attachIommuGroup } from 'kvm-vfio-spapr';
import { EduDevice } from './edu.js';
import { TceGuest } from './tce-guest.js';

const N = 2000;
const H_PUT_TCE = 0x20n;
const LIOBN = 0x80000000n;
const WINDOW = 1n << 30n;
const DATA = 0x100000n;
const DMA_BYTES = 1024; // QEMU 7.2's edu refuses a DMA that ends at the end of its buffer
const groupNumber = Number(process.argv[2] ?? 2);
const deviceName = process.argv[3] ?? '0002:00:00.0';

async function runCase(label: string, setup: (kvm: Kvm, guest: TceGuest, memory: GuestMemory) => () => void) {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(64n << 20n);
  const guest = TceGuest.create(vm, memory);
  const teardown = setup(kvm, guest, memory);
  const started = performance.now();
  const report = await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: N, tce: DATA | 3n });
  const ms = performance.now() - started;
  console.log(`  ${label.padEnd(44)} ${String(report.hypercalls).padStart(5)} H_PUT_TCE, ${String(report.userExits).padStart(5)} exits to user space  (${ms.toFixed(0)} ms)`);
  teardown();
  guest.close();
  memory.close();
  vm.close();
  kvm.close();
}

console.log(`${N} H_PUT_TCE from an L2 guest to LIOBN 0x${LIOBN.toString(16)}:`);
await runCase('A: no in-kernel table', () => () => {});
await runCase('B: in-kernel TCE table', (_kvm, guest) => {
  const table = guest.vm.createSpaprTceTable({ liobn: LIOBN, size: WINDOW >> 12n });
  return () => {
    console.log(`     table[0] = 0x${table.read(0).toString(16)}, table[${N - 1}] = 0x${table.read(N - 1).toString(16)}`);
    table.close();
  };
});
await runCase(`C: VFIO group ${groupNumber} linked`, (_kvm, guest, memory) => {
  const linkage = attachIommuGroup(guest.vm, { group: groupNumber, liobn: LIOBN, windowSize: WINDOW, memory });
  return () => linkage.close();
});

// The DMA check: the guest maps two pages, the device copies the first to the second through them.
{
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const memory = GuestMemory.allocate(64n << 20n);
  const guest = TceGuest.create(vm, memory);
  const group = VfioGroup.open(groupNumber);
  const linkage = attachIommuGroup(vm, { group, liobn: LIOBN, windowSize: WINDOW, memory });
  const edu = new EduDevice(group.getDeviceFd(deviceName));
  const source = new Uint8Array(memory.buffer, Number(DATA), DMA_BYTES);
  const target = new Uint8Array(memory.buffer, Number(DATA) + 0x1000, DMA_BYTES);
  source.forEach((_, i) => (source[i] = (i * 13 + 1) & 0xff));
  await guest.runLoop({ hcall: H_PUT_TCE, liobn: LIOBN, iterations: 2, tce: DATA | 3n });
  await edu.dma('to-device', 0n, BigInt(DMA_BYTES));
  await edu.dma('from-device', 0x1000n, BigInt(DMA_BYTES));
  const landed = target.every((byte, i) => byte === source[i]);
  console.log(`  DMA check: device read IOVA 0 and wrote IOVA 0x1000 through the guest's TCEs: ${landed ? 'the data landed' : 'FAILED'}`);
  edu.device.close();
  linkage.close();
  group.close();
  guest.close();
  memory.close();
  vm.close();
  kvm.close();
  if (!landed) process.exitCode = 1;
}
