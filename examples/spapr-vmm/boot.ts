// What both exit paths take and give back (run-on-event-loop.ts, run-on-vcpu-thread.ts): the
// boot's inputs, where the guest's console output goes, and the result.
import type { BootReport, MachineOptions } from './machine.js';

/** Where the guest's console output goes: fd 1 (the default), nowhere (benchmarks), or collected into the result. */
export type ConsoleChoice = 'stdout' | 'drop' | 'collect';

/** A boot's inputs, already checked by the caller. */
export interface BootInputs {
  kernelFile: Uint8Array;
  kernelPath: string;
  initrd: Uint8Array;
  options: Omit<MachineOptions, 'kernel' | 'initrd' | 'output'>;
  /** Default 'stdout'. */
  console?: ConsoleChoice;
}

/** The machine's report, and the console output when it was collected. */
export interface BootResult {
  report: BootReport;
  /** The console output, with console: 'collect'. */
  console?: string;
}

/** The machine's output callback for `choice` (`toStdout` writes on the caller's thread), and the result it makes. */
export function consoleSink(choice: ConsoleChoice, toStdout: (bytes: Uint8Array) => void): { output: (bytes: Uint8Array) => void; result: (report: BootReport) => BootResult } {
  const collected: Buffer[] = [];
  const output = choice === 'collect' ? (bytes: Uint8Array) => { collected.push(Buffer.from(bytes)); } : choice === 'drop' ? () => {} : toStdout;
  return { output, result: (report) => (choice === 'collect' ? { report, console: Buffer.concat(collected).toString('latin1') } : { report }) };
}
