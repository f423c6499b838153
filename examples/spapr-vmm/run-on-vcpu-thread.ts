// Starts the machine in a Worker (vcpu-thread.ts) whose only vCPU answers its exits on its own
// thread, and stops it with Vcpu.kick after `timeoutMs`. Used by main.ts and by bench:power.
import { Worker } from 'node:worker_threads';
import { Vcpu } from 'kvm-vfio-spapr';
import type { BootReport } from './machine.js';
import type { VcpuThreadData, VcpuThreadResult } from './vcpu-thread.js';

/** Resolves with the machine's report once the guest powers off or the timer stopped it. */
export async function bootOnVcpuThread(data: Omit<VcpuThreadData, 'stopFlag'>, timeoutMs: number): Promise<BootReport> {
  return (await runVcpuThread(data, timeoutMs)).report;
}

/** bootOnVcpuThread(), keeping the console output instead of writing it to fd 1. */
export function bootOnVcpuThreadCollectingConsole(data: Omit<VcpuThreadData, 'stopFlag' | 'collectConsole' | 'quiet'>, timeoutMs: number): Promise<VcpuThreadResult> {
  return runVcpuThread({ ...data, collectConsole: true }, timeoutMs);
}

function runVcpuThread(data: Omit<VcpuThreadData, 'stopFlag'>, timeoutMs: number): Promise<VcpuThreadResult> {
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL('./vcpu-thread.js', import.meta.url), { workerData: { ...data, stopFlag } satisfies VcpuThreadData });
  const timer = setTimeout(() => Vcpu.kick(stopFlag), timeoutMs);
  return new Promise<VcpuThreadResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the vCPU thread exited (${code}) without a report`)));
  }).finally(() => clearTimeout(timer));
}
