// The reference VMM (examples/spapr-vmm) boots Debian's own 6.12 ppc64el kernel — the one this
// emulated host runs — as a radix guest of the host's nested kvm-hv, on the library's public API:
// to a busybox initramfs that prints numbered lines and a marker, then powers off through RTAS.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VfioGroup, resourceStats, traceSyscalls } from '../../dist/index.js';
import { EXPECTED, NEEDS_VFIO_GROUPS, DEVICE_TESTDEV, GROUP_TESTDEV } from './helpers.mjs';
import { CONSOLE_LINES, CPUS_LINE, PCI_LINE, USERSPACE_MARKER, markerInitramfs } from '../../dist/examples/spapr-vmm/initramfs.js';
import { KernelImageError, parseKernelImage } from '../../dist/examples/spapr-vmm/kernel-image.js';
import { MachineConfigError, SpaprMachine } from '../../dist/examples/spapr-vmm/machine.js';
import { kernelImage } from '../../scripts/power-host/kernel-tree.mjs';

const KERNEL_PATH = kernelImage();
const BUSYBOX_PATH = '.cache/power-host/busybox/bin/busybox';
const MiB = 1n << 20n;
const BOOT_TIMEOUT_MS = 300_000;

/** Threads of this process named as the library names its vCPU threads (native/vcpu_run.cc). */
const vcpuThreads = () => readdirSync('/proc/self/task').filter((task) => readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === 'kvs-vcpu').length;
const openFdCount = () => readdirSync('/proc/self/fd').length;

function inputs() {
  return { kernel: parseKernelImage(readFileSync(KERNEL_PATH), KERNEL_PATH), initrd: markerInitramfs(readFileSync(BUSYBOX_PATH)) };
}

describe('the reference VMM boots Linux on the emulated POWER host', () => {
  it('two vCPUs, XICS in JavaScript: reaches the initramfs marker with both CPUs up and powers off through RTAS; the console keeps its order; exits are counted; nothing is left behind', async (t) => {
    const { kernel, initrd } = inputs();
    const before = { ...resourceStats(), fds: openFdCount() };
    const chunks = [];
    const machine = SpaprMachine.create({ kernel, initrd, memorySize: 512n * MiB, commandLine: 'console=hvc0 quiet', cpus: 2, irqchip: 'user', output: (bytes) => chunks.push(Buffer.from(bytes)) });
    let report;
    try {
      const running = machine.run(BOOT_TIMEOUT_MS);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(vcpuThreads(), 1, 'vCPU 0 runs first: its thread is named');
      report = await running;
    } finally {
      machine.close();
    }
    const console = Buffer.concat(chunks).toString('latin1');
    t.diagnostic(`boot: ${(report.milliseconds / 1000).toFixed(2)} s from VM creation to power-off; exits to user space ${JSON.stringify(report.exitsByReason, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}; in the kernel ${report.exitsInKernel}`);
    t.diagnostic(`hypercalls ${JSON.stringify(report.hypercalls)}; rtas ${JSON.stringify(report.rtasCalls)}`);
    assert.ok(console.includes(USERSPACE_MARKER), `no marker in the console output:\n${console.slice(-2000)}`);
    assert.equal(report.poweredOff, true);
    assert.equal(report.rtasCalls['power-off'], 1);
    const numbers = [...console.matchAll(/console line (\d+) of \d+/g)].map((match) => Number(match[1]));
    assert.deepEqual(numbers, Array.from({ length: CONSOLE_LINES }, (_, i) => i + 1), 'every console line once, in order');
    assert.ok(console.indexOf(`console line ${CONSOLE_LINES} of`) < console.indexOf(USERSPACE_MARKER));
    assert.deepEqual(Object.keys(report.exitsByReason), ['PAPR_HCALL'], 'a guest without devices exits only for hypercalls');
    assert.equal(report.hypercalls.H_REGISTER_PROC_TBL, 1, 'the radix process table is registered once');
    assert.ok(report.hypercalls.H_PUT_TERM_CHAR > 0 && report.hypercalls.H_RTAS > 0);
    assert.ok(report.exitsInKernel > 0n, 'the decrementer, H_CEDE and friends are handled in the kernel');
    assert.equal(report.irqchip, 'user');
    assert.ok(console.includes(`${CPUS_LINE} 2`), 'the guest brought up both vCPUs');
    assert.equal(report.rtasCalls['start-cpu'], 1, 'the second vCPU was started through RTAS start-cpu, on its own run loop');
    assert.ok(report.hypercalls.H_IPI > 0 && report.hypercalls.H_XIRR > 0 && report.hypercalls.H_EOI > 0, 'IPIs went through the JavaScript XICS');
    assert.ok(report.hypercalls.H_CPPR >= 1, 'with XICS in JavaScript the guest\'s H_CPPR reaches user space');
    assert.equal(resourceStats().ownedFds, before.ownedFds, 'every fd the VMM opened is closed');
    assert.equal(resourceStats().mappings, before.mappings, 'guest memory and kvm_run are unmapped');
    assert.ok(openFdCount() <= before.fds, `${openFdCount()} fds open after the boot, ${before.fds} before`);
    assert.equal(vcpuThreads(), 0, 'the vCPU thread is joined');
  });

  it('passes pci-testdev (group 1) through on a PHB of its own: Linux finds it from the device tree and reads its config space through RTAS; the group is linked to the PHB\'s LIOBN', NEEDS_VFIO_GROUPS, async (t) => {
    const { kernel, initrd } = inputs();
    const chunks = [];
    const irqchip = EXPECTED.kernelXicsGuestsStall ? 'user' : 'auto'; // the interrupt controller does not matter here
    const machine = SpaprMachine.create({ kernel, initrd, memorySize: 512n * MiB, commandLine: 'console=hvc0 quiet', cpus: 1, irqchip, passthrough: [DEVICE_TESTDEV], output: (bytes) => chunks.push(Buffer.from(bytes)) });
    let report;
    try {
      report = await machine.run(BOOT_TIMEOUT_MS);
    } finally {
      machine.close();
    }
    const console = Buffer.concat(chunks).toString('latin1');
    t.diagnostic(`rtas ${JSON.stringify(report.rtasCalls)}; exits ${JSON.stringify(report.exitsByReason, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
    assert.equal(report.poweredOff, true, console.slice(-3000));
    assert.match(console, new RegExp(`${PCI_LINE} 0x1b36 0x0005 [0-9a-f]{4}:00:00\\.0`), `the guest lists pci-testdev:\n${console.slice(-3000)}`);
    assert.ok(report.rtasCalls['ibm,read-pci-config'] > 0, 'config space read through RTAS');
    const group = VfioGroup.open(GROUP_TESTDEV); // closing the machine detached and closed the group
    group.close();
  });

  it('refuses what the machine cannot do: runOnThisThread() with two vCPUs, --vfio of a function that does not exist', () => {
    const { kernel, initrd } = inputs();
    const options = { kernel, initrd, memorySize: 512n * MiB, commandLine: '', output: () => {} };
    const machine = SpaprMachine.create({ ...options, cpus: 2 });
    try {
      assert.throws(() => machine.runOnThisThread(), (error) => error instanceof MachineConfigError && /runs one vCPU, this machine has 2/.test(error.message));
    } finally {
      machine.close();
    }
    assert.throws(() => SpaprMachine.create({ ...options, cpus: 1, passthrough: ['0009:00:00.0'] }), (error) => error instanceof MachineConfigError && /no such PCI function with an IOMMU group/.test(error.message));
  });

  it('refuses bad input before any VM exists: not a kernel image, too little memory, a command line too long for the device tree', () => {
    const { kernel, initrd } = inputs();
    const machine = (options) => () => SpaprMachine.create({ kernel, initrd, memorySize: 512n * MiB, commandLine: '', cpus: 1, output: () => {}, ...options });
    const cases = [
      [() => parseKernelImage(initrd, 'the initramfs'), KernelImageError, /not a bootable POWER kernel image: no ELF header/],
      [() => parseKernelImage(readFileSync(process.execPath).subarray(0, 4096), 'node'), KernelImageError, /truncated|runs past the end|not PowerPC64|not an executable/],
      [machine({ memorySize: 64n * MiB }), MachineConfigError, /64 MiB of memory is too little/],
      [machine({ commandLine: 'x'.repeat(2048) }), MachineConfigError, /command line is 2048 bytes: Linux on POWER takes at most 2047/],
      [machine({ cpus: 0 }), MachineConfigError, /--cpus must be 1\.\.64/],
      [machine({ irqchip: 'xive' }), MachineConfigError, /--irqchip must be kernel, user or auto, not xive/],
      [machine({ tce: 'both' }), MachineConfigError, /--tce must be kernel or user, not both/],
    ];
    for (const [fn, type, message] of cases) {
      const { error, syscalls } = traceSyscalls(fn);
      assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
      assert.match(error.message, message);
      assert.deepEqual(syscalls, [], `${error.message}: no syscall`);
    }
  });

  it('from the command line, with the in-kernel XICS (KVM_CAP_IRQ_XICS), exits answered on the vCPU\'s own thread: the marker, exit status 0, and no XICS hypercall reaches user space', { skip: EXPECTED.kernelXicsGuestsStall }, () => {
    const initrdPath = '/tmp/spapr-vmm-initrd.cpio';
    writeFileSync(initrdPath, inputs().initrd);
    const reportPath = '/tmp/spapr-vmm-report.json';
    const result = spawnSync(process.execPath, ['dist/examples/spapr-vmm/main.js', '--kernel', KERNEL_PATH, '--initrd', initrdPath, '--irqchip', 'kernel', '--report', reportPath], { encoding: 'latin1', timeout: BOOT_TIMEOUT_MS });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.includes(USERSPACE_MARKER), result.stdout.slice(-2000));
    assert.match(result.stderr, /guest powered off after [\d.]+ s \(interrupt controller: in the kernel\)/);
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    assert.equal(report.irqchip, 'kernel');
    assert.equal(report.exitPath, 'vcpu-thread', 'one vCPU: the fastest exit path (runSync in a Worker) by default');
    assert.match(result.stderr, /answered on the vCPU's thread/);
    for (const name of ['H_CPPR', 'H_XIRR', 'H_EOI', 'H_IPI']) assert.equal(report.hypercalls[name], undefined, `${name} was answered in the kernel`);
  });

  it('the command line says what is wrong and exits 2 for a missing initramfs, and for two vCPUs on one thread', () => {
    const result = spawnSync(process.execPath, ['dist/examples/spapr-vmm/main.js', '--kernel', KERNEL_PATH, '--initrd', '/nonexistent.cpio'], { encoding: 'utf8' });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /--initrd \/nonexistent\.cpio cannot be read: ENOENT/);
    const twoOnOneThread = spawnSync(process.execPath, ['dist/examples/spapr-vmm/main.js', '--kernel', KERNEL_PATH, '--initrd', KERNEL_PATH, '--cpus', '2', '--exit-path', 'vcpu-thread'], { encoding: 'utf8' });
    assert.equal(twoOnOneThread.status, 2, twoOnOneThread.stderr);
    assert.match(twoOnOneThread.stderr, /--exit-path vcpu-thread runs one vCPU on its thread/);
  });
});
