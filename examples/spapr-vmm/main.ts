#!/usr/bin/env node
// The reference pseries VMM: boots a Linux kernel with an initramfs as a KVM guest, console on
// stdio, and exits with the guest's power-off.
//   node dist/examples/spapr-vmm/main.js --kernel vmlinux --initrd initrd.cpio [--memory 512]
//        [--cmdline '...'] [--cpus 1] [--irqchip auto] [--exit-path vcpu-thread|event-loop]
//        [--vfio 0001:00:00.0]... [--tce kernel|user] [--timeout 300] [--report report.json]
// --vfio passes a function bound to vfio-pci through, on a PHB of its own with its DMA linked in-kernel
// (--tce kernel, the default) or with its TCE table kept by this VMM (--tce user: every TCE hypercall exits).
// --exit-path vcpu-thread (the default with one vCPU) runs the machine in a Worker whose vCPU
// answers its exits on its own thread (vcpu.runSync); event-loop (the default with several) uses run().
// Exit status: 0 the guest powered off; 1 it did not (timeout, a failed KVM_RUN); 2 bad input.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KernelImageError, parseKernelImage } from './kernel-image.js';
import { type BootReport, MachineConfigError, type MachineOptions, planLayout } from './machine.js';
import { bootOnEventLoop } from './run-on-event-loop.js';
import { bootOnVcpuThread } from './run-on-vcpu-thread.js';

const DEFAULT_COMMAND_LINE = 'console=hvc0 quiet';

function usage(message: string): never {
  process.stderr.write(`spapr-vmm: ${message}\nusage: spapr-vmm --kernel VMLINUX --initrd CPIO [--memory MiB] [--cmdline TEXT] [--cpus N] [--irqchip kernel|user|auto] [--exit-path vcpu-thread|event-loop] [--vfio PCI-ADDRESS]... [--tce kernel|user] [--marker TEXT] [--timeout SECONDS] [--report FILE]\n`);
  process.exit(2);
}

function readInput(path: string | undefined, what: string): Buffer {
  if (path === undefined) usage(`--${what} is required`);
  try {
    if (!statSync(path).isFile()) usage(`--${what} ${path} is not a file`);
    return readFileSync(path);
  } catch (error) {
    usage(`--${what} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) usage(`--${name} must be a positive integer, not '${value}'`);
  return number;
}

function summary(report: BootReport): string {
  const reasons = Object.entries(report.exitsByReason).map(([reason, count]) => `${reason} ${count}`).join(', ');
  const hcalls = Object.entries(report.hypercalls).sort((a, b) => b[1] - a[1]).map(([name, count]) => `${name} ${count}`).join(', ');
  return [
    `spapr-vmm: ${report.poweredOff ? 'guest powered off' : 'guest did not power off'} after ${(report.milliseconds / 1000).toFixed(2)} s (interrupt controller: ${report.irqchip === 'kernel' ? 'in the kernel' : 'in JavaScript'})${report.markerMilliseconds === undefined ? '' : `; marker after ${(report.markerMilliseconds / 1000).toFixed(2)} s`}`,
    `spapr-vmm: exits to user space: ${reasons || 'none'} (answered on ${report.exitPath === 'vcpu-thread' ? 'the vCPU\'s thread' : 'the event loop'}); handled in the kernel: ${report.exitsInKernel}`,
    `spapr-vmm: hypercalls: ${hcalls}`,
    `spapr-vmm: rtas: ${Object.entries(report.rtasCalls).map(([name, count]) => `${name} ${count}`).join(', ')}`,
  ].join('\n');
}

type Options = Omit<MachineOptions, 'kernel' | 'initrd' | 'output'>;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kernel: { type: 'string' }, initrd: { type: 'string' }, memory: { type: 'string' }, cmdline: { type: 'string' },
      cpus: { type: 'string' }, marker: { type: 'string' }, irqchip: { type: 'string' }, 'exit-path': { type: 'string' },
      timeout: { type: 'string' }, report: { type: 'string' }, vfio: { type: 'string', multiple: true },
      tce: { type: 'string' },
    },
    strict: true,
  });
  const kernelFile = readInput(values.kernel, 'kernel');
  const initrd = readInput(values.initrd, 'initrd');
  const memoryMiB = positive(values.memory, 'memory', 512);
  const timeoutSeconds = positive(values.timeout, 'timeout', 300);
  const cpus = positive(values.cpus, 'cpus', 1);
  // A passed-through INTx into the XICS in JavaScript arrives through an eventfd on the event loop.
  const needsEventLoop = cpus !== 1 || (values.vfio !== undefined && values.irqchip === 'user');
  const exitPath = values['exit-path'] ?? (needsEventLoop ? 'event-loop' : 'vcpu-thread');
  if (exitPath !== 'vcpu-thread' && exitPath !== 'event-loop') usage(`--exit-path must be vcpu-thread or event-loop, not '${exitPath}'`);
  if (exitPath === 'vcpu-thread' && cpus !== 1) usage('--exit-path vcpu-thread runs one vCPU on its thread: use --cpus 1, or --exit-path event-loop');
  if (exitPath === 'vcpu-thread' && needsEventLoop) usage('--vfio with --irqchip user delivers INTx on the event loop: use --exit-path event-loop, or --irqchip kernel');
  const options: Options = {
    memorySize: BigInt(memoryMiB) << 20n, commandLine: values.cmdline ?? DEFAULT_COMMAND_LINE,
    cpus, irqchip: (values.irqchip ?? 'auto') as 'auto', ...(values.marker ? { marker: values.marker } : {}),
    ...(values.vfio ? { passthrough: values.vfio } : {}), ...(values.tce ? { tce: values.tce as 'user' } : {}),
  };
  try {
    planLayout({ ...options, kernel: parseKernelImage(kernelFile, values.kernel), initrd }); // bad input: exit 2 before any VM exists
  } catch (error) {
    if (error instanceof KernelImageError || error instanceof MachineConfigError) usage(error.message);
    throw error;
  }
  const timeoutMs = timeoutSeconds * 1000;
  const report = exitPath === 'vcpu-thread'
    ? (await bootOnVcpuThread({ kernelFile, kernelPath: values.kernel!, initrd, options }, timeoutMs)).report
    : (await bootOnEventLoop({ kernelFile, kernelPath: values.kernel!, initrd, options }, timeoutMs)).report;
  process.stderr.write(`\n${summary(report)}\n`);
  if (values.report) writeFileSync(values.report, JSON.stringify(report, (_, value) => (typeof value === 'bigint' ? Number(value) : value), 2));
  return report.poweredOff ? 0 : 1;
}

process.exitCode = await main();
