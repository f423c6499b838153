// A Linux guest that reads the passed-through NVMe controller with its own nvme driver: finds the
// controller in the host's sysfs, gathers the guest kernel's nvme modules, builds the initramfs,
// boots the reference VMM with it and reads back what the guest printed (checksum, read time).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { BLOCK_IRQ_LINE, BLOCK_READ_LINE, BLOCK_SECONDS_PATTERN, markerInitramfs } from './initramfs.js';
import type { BootReport } from './machine.js';
import { bootOnEventLoop } from './run-on-event-loop.js';
import { bootOnVcpuThread } from './run-on-vcpu-thread.js';
import type { TcePath } from './dma.js';

const MiB = 1n << 20n;

/** The host's NVMe controller (QEMU's 1b36:0010), or undefined. */
export function nvmeAddress(): string | undefined {
  const attribute = (device: string, name: string) => readFileSync(`/sys/bus/pci/devices/${device}/${name}`, 'utf8').trim();
  return readdirSync('/sys/bus/pci/devices').find((d) => attribute(d, 'vendor') === '0x1b36' && attribute(d, 'device') === '0x0010');
}

/**
 * The guest's nvme module and the modules it needs, in load order (modules.dep lists the deepest
 * last), decompressed with the host's busybox (busybox insmod cannot load .ko.xz). 7.2 added nvme-keyring.
 */
export function nvmeModules(modulesDir: string): { name: string; data: Uint8Array }[] {
  const line = readFileSync(`${modulesDir}/modules.dep`, 'utf8').split('\n').find((l) => /^kernel\/drivers\/nvme\/host\/nvme\.ko(\.xz)?:/.test(l));
  if (!line) throw new Error(`${modulesDir}/modules.dep lists no nvme module`);
  const [target, needs = ''] = line.split(':') as [string, string];
  return [...needs.trim().split(/\s+/).filter(Boolean).reverse(), target].map((path) => {
    const name = basename(path).replace(/\.ko(\.xz)?$/, '');
    if (!path.endsWith('.xz')) return { name, data: readFileSync(`${modulesDir}/${path}`) };
    const unxz = spawnSync('busybox', ['xzcat', `${modulesDir}/${path}`], { maxBuffer: 64 << 20 });
    if (unxz.status !== 0) throw new Error(`xzcat ${name}: ${unxz.stderr}`);
    return { name, data: unxz.stdout };
  });
}

export interface NvmeReadOptions {
  kernelPath: string;
  modulesDir: string;
  busyboxPath: string;
  directReadPath: string;
  /** MiB the guest reads with O_DIRECT. */
  mib: number;
  irqchip: 'kernel' | 'user';
  tce: TcePath;
  /** 'vcpu-thread' (runSync in a Worker: needs the kernel's XICS) or 'event-loop' (run()). */
  exitPath: 'vcpu-thread' | 'event-loop';
  timeoutMs: number;
}

/** What the guest read and how the VMM saw it. */
export interface NvmeRead {
  address: string;
  report: BootReport;
  console: string;
  /** The sha256 the guest printed of what it read, and how many MiB it said. */
  sha256: string | undefined;
  mib: number | undefined;
  /** Interrupts the guest's nvme driver took. */
  interrupts: number | undefined;
  /** Seconds the guest's O_DIRECT reads took, by its own clock. */
  readSeconds: number | undefined;
}

/** Boots the guest with the controller passed through and returns what it printed. */
export async function readNvmeInGuest(options: NvmeReadOptions): Promise<NvmeRead> {
  const address = nvmeAddress();
  if (!address) throw new Error('no NVMe controller (1b36:0010) on this host');
  const block = { modules: nvmeModules(options.modulesDir), program: readFileSync(options.directReadPath), device: '/dev/nvme0n1', mib: options.mib };
  const initrd = markerInitramfs(readFileSync(options.busyboxPath), block);
  const machineOptions = { memorySize: 512n * MiB, commandLine: 'console=hvc0 quiet', cpus: 1, irqchip: options.irqchip, passthrough: [address], tce: options.tce };
  const boot = options.exitPath === 'vcpu-thread' ? bootOnVcpuThread : bootOnEventLoop;
  const { report, console = '' } = await boot({ kernelFile: readFileSync(options.kernelPath), kernelPath: options.kernelPath, initrd, options: machineOptions, console: 'collect' }, options.timeoutMs);
  const read = console.match(new RegExp(`${BLOCK_READ_LINE} ([0-9a-f]{64}) (\\d+)`));
  const seconds = console.match(BLOCK_SECONDS_PATTERN);
  const interrupts = console.match(new RegExp(`${BLOCK_IRQ_LINE} (\\d+)`));
  return {
    address, report, console, sha256: read?.[1], mib: read ? Number(read[2]) : undefined,
    interrupts: interrupts ? Number(interrupts[1]) : undefined, readSeconds: seconds ? Number(seconds[2]) : undefined,
  };
}
