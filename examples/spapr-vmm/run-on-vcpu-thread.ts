// Starts the machine in a Worker (vcpu-thread.ts) whose only vCPU answers its exits on its own
// thread, and stops it with Vcpu.kick after `timeoutMs`. Used by main.ts, nvme-guest.ts and bench:power.
import { Worker } from 'node:worker_threads';
import { Vcpu } from 'kvm-vfio-spapr';
import type { BootInputs, BootResult } from './boot.js';
import type { VcpuThreadData } from './vcpu-thread.js';

/** Resolves with the machine's report (and its console, if collected) once the guest powers off or the timer stopped it. */
export function bootOnVcpuThread(inputs: BootInputs, timeoutMs: number): Promise<BootResult> {
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./vcpu-thread.js', import.meta.url), { workerData: { ...inputs, stopFlag } satisfies VcpuThreadData });
  const timer = setTimeout(() => Vcpu.kick(stopFlag), timeoutMs);
  return new Promise<BootResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the vCPU thread exited (${code}) without a report`)));
  }).finally(() => clearTimeout(timer));
}
