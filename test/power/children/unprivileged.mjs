// Run by permissions.test.mjs as uid/gid 65534 (no access to /dev/kvm or /dev/vfio/N), with the
// parent's /dev/kvm fd as fd 3 (a privileged broker's way). Reports, as JSON on stdout, what
// each call did.
import { GuestMemory, Kvm, VfioContainer, VfioGroup, pageSize, probe, verdictLine } from '../../../dist/index.js';

function outcome(call) {
  try {
    const value = call();
    return { ok: true, value };
  } catch (error) {
    return { code: error.code, syscall: error.syscall, request: error.request, hint: error.hint };
  }
}

const results = { uid: process.getuid(), gid: process.getgid() };
results.openKvm = outcome(() => Kvm.open().close());
results.openGroup = outcome(() => VfioGroup.open(1).close());
results.openContainer = outcome(() => VfioContainer.open().close());
// The parent's /dev/kvm fd works here: access was checked when the parent opened it.
const kvm = Kvm.fromFd(3);
const vm = kvm.createVm();
results.vmFromPassedKvm = outcome(() => vm.checkExtension(142));
results.table = outcome(() => {
  const table = vm.createSpaprTceTable({ liobn: 0x80000000n, size: 512n });
  table.close();
  return 'created';
});
// TCE tables count against RLIMIT_MEMLOCK without CAP_IPC_LOCK: 2^22 entries are 32 MiB.
results.bigTable = outcome(() => vm.createSpaprTceTable({ liobn: 0x80000001n, size: 1n << 22n }).close());
results.memory = outcome(() => GuestMemory.allocate(BigInt(pageSize())).close());
vm.close();
kvm.close();
const report = probe();
results.verdict = verdictLine(report);
results.warnings = report.verdict.warnings;
console.log(JSON.stringify(results));
