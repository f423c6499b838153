// Run by processes.test.mjs in a child process whose fd 3 is the parent's VM fd: adopts it with
// Vm.fromFd and reports, as JSON on stdout, what each call did.
import { Cap, Kvm, KvmVfioError, Vm } from '../../../dist/index.js';

function outcome(call) {
  try {
    call();
    return 'ok';
  } catch (error) {
    return { code: error.code, errno: error.errno, request: error.request, hint: error.hint, kvmVfioError: error instanceof KvmVfioError };
  }
}

const kvm = Kvm.open();
const results = { notAVm: outcome(() => Vm.fromFd(0, kvm)) };
const vm = Vm.fromFd(3, kvm);
results.checkExtension = outcome(() => vm.checkExtension(Cap.SPAPR_TCE));
results.createSpaprTceTable = outcome(() => vm.createSpaprTceTable({ liobn: 0x90000000n, size: 512n }));
results.createVfioDevice = outcome(() => vm.createVfioDevice());
vm.close();
kvm.close();
console.log(JSON.stringify(results));
