// The Worker that runs the machine on the fastest exit path (main.ts --exit-path vcpu-thread): the
// machine is built here and its only vCPU runs with runSync() on this thread, so every exit is
// answered without a hop to the main thread. The main thread keeps the timer (Vcpu.kick) and the
// summary. Console bytes go straight to fd 1 with writeSync, in order (or nowhere, or back with the report).
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { type BootInputs, type BootResult, consoleSink } from './boot.js';
import { parseKernelImage } from './kernel-image.js';
import { SpaprMachine } from './machine.js';

/** What run-on-vcpu-thread.ts hands this thread: the boot's inputs, and the stop flag it kicks. */
export interface VcpuThreadData extends BootInputs {
  stopFlag: Int32Array;
}

function writeAll(bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += writeSync(1, bytes, done);
}

const data = workerData as VcpuThreadData;
const kernel = parseKernelImage(Buffer.from(data.kernelFile), data.kernelPath);
const sink = consoleSink(data.console ?? 'stdout', writeAll);
using machine = SpaprMachine.create({ ...data.options, kernel, initrd: data.initrd, output: sink.output });
parentPort!.postMessage(sink.result(machine.runOnThisThread(data.stopFlag)) satisfies BootResult);
