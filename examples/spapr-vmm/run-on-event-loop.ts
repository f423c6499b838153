// Boots the machine on this thread with run(): each exit hops from its vCPU's KVM_RUN thread to the
// event loop. Used by main.ts, nvme-guest.ts and bench:power; run-on-vcpu-thread.ts is the other path.
import { type BootInputs, type BootResult, consoleSink } from './boot.js';
import { parseKernelImage } from './kernel-image.js';
import { SpaprMachine } from './machine.js';

/** Resolves with the machine's report (and its console, if collected) once the guest powers off or `timeoutMs` passed. */
export async function bootOnEventLoop(inputs: BootInputs, timeoutMs: number): Promise<BootResult> {
  const kernel = parseKernelImage(inputs.kernelFile, inputs.kernelPath);
  const sink = consoleSink(inputs.console ?? 'stdout', (bytes) => process.stdout.write(bytes));
  using machine = SpaprMachine.create({ ...inputs.options, kernel, initrd: inputs.initrd, output: sink.output });
  return sink.result(await machine.run(timeoutMs));
}
