// The Worker that runs the machine on the fastest exit path (main.ts --exit-path vcpu-thread): the
// machine is built here and its only vCPU runs with runSync() on this thread, so every exit is
// answered without a hop to the main thread. The main thread keeps the timer (Vcpu.kick) and the
// summary. Console bytes go straight to fd 1 with writeSync, in order.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parseKernelImage } from './kernel-image.js';
import { type BootReport, type MachineOptions, SpaprMachine } from './machine.js';

/** What main.ts hands this thread: the inputs it already checked, and the stop flag it kicks. */
export interface VcpuThreadData {
  kernelFile: Uint8Array;
  kernelPath: string;
  initrd: Uint8Array;
  options: Omit<MachineOptions, 'kernel' | 'initrd' | 'output'>;
  stopFlag: Int32Array;
  /** Drop the console output (benchmarks). */
  quiet?: boolean;
  /** Keep the console output and post it with the report, instead of writing it to fd 1. */
  collectConsole?: boolean;
}

/** What this thread posts when the guest stops. */
export interface VcpuThreadResult {
  report: BootReport;
  /** The console output, with collectConsole. */
  console?: string;
}

function writeAll(bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += writeSync(1, bytes, done);
}

const data = workerData as VcpuThreadData;
const kernel = parseKernelImage(Buffer.from(data.kernelFile), data.kernelPath);
const collected: Buffer[] = [];
const output = data.collectConsole ? (bytes: Uint8Array) => collected.push(Buffer.from(bytes)) : data.quiet ? () => {} : writeAll;
using machine = SpaprMachine.create({ ...data.options, kernel, initrd: data.initrd, output });
const report = machine.runOnThisThread(data.stopFlag);
parentPort!.postMessage({ report, ...(data.collectConsole ? { console: Buffer.concat(collected).toString('latin1') } : {}) } satisfies VcpuThreadResult);
