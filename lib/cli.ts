#!/usr/bin/env node
// npx kvm-vfio-spapr doctor [--json]: what this host offers for in-kernel TCE acceleration.
// Exit code 0 whether or not acceleration is available; 2 only when the doctor itself fails.
import type { GroupWindowProbe } from './probe-windows.js';
import { type ProbeReport, probe, verdictLine } from './probe.js';

const USAGE = 'usage: kvm-vfio-spapr doctor [--json]';

function json(report: ProbeReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2);
}

function yesNo(value: boolean | undefined): string {
  return value === undefined ? '?' : value ? 'yes' : 'no';
}

const TCE_PATHS: Record<ProbeReport['tcePath'], string> = {
  'in-kernel': 'in the kernel (attachIommuGroup links the group to the LIOBN: no TCE hypercall exits)',
  'user-space': 'user space (no linkage here: TceHypercalls answers every TCE hypercall and maps it with VFIO_IOMMU_MAP_DMA)',
  none: 'none (no sPAPR VFIO container: no passthrough DMA on this host)',
};

function windowLine(window: GroupWindowProbe): string {
  if (!window.creatable) return `no: ${window.limit}`;
  const largest = `${window.largestWindowSize! >> 30n} GiB`;
  return `yes, ${window.limit ? '' : 'at least '}${largest} with ${2 ** (window.pageShift! - 10)} KiB pages at 0x${window.startAddr!.toString(16)}${window.limit ? ` (${window.limit})` : ''}`;
}

function table(report: ProbeReport): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(30)} ${value}`);
  lines.push('KVM');
  row(report.kvm.path, report.kvm.open ? `open, API ${report.kvm.apiVersion}` : `not usable: ${report.kvm.error}`);
  if (report.capabilities) {
    lines.push('Capabilities (system / VM fd)');
    for (const name of Object.keys(report.capabilities.system)) {
      row(name, `${report.capabilities.system[name]} / ${report.capabilities.vm[name] ?? '-'}`);
    }
    if (report.capabilities.vmError) row('KVM_CREATE_VM', report.capabilities.vmError);
  }
  if (report.kvmVfio) {
    lines.push('KVM-VFIO device');
    row('device', report.kvmVfio.error ?? yesNo(report.kvmVfio.device));
    row('SET_SPAPR_TCE attribute', yesNo(report.kvmVfio.setSpaprTce));
  }
  if (report.hypercalls) {
    lines.push('TCE hypercalls handled in-kernel');
    for (const call of report.hypercalls) row(`${call.name} (0x${call.number.toString(16)})`, `${yesNo(call.inKernel)} (${call.how})`);
  }
  if (report.vmm) {
    const vmm = report.vmm;
    const where = {
      'kernel-xive': 'in the kernel (XIVE): device interrupts go from an irqfd straight to the guest',
      'kernel-xics': 'in the kernel (XICS): device interrupts go from an irqfd straight to the guest',
      'user-space': 'in user space: emulate XICS (kvm-vfio-spapr/spapr Xics) and raise vCPU lines with KVM_INTERRUPT',
    }[vmm.interruptController];
    lines.push('A pseries VMM on this host');
    row('radix MMU page sizes', vmm.radixPageShifts.length ? vmm.radixPageShifts.map((shift) => `${2 ** (shift - 10)} KiB`).join(', ') : `none${vmm.radixError ? ` (${vmm.radixError})` : ''}`);
    row('hash-MMU guests', vmm.hashGuests ? 'yes' : 'no (radix guests only)');
    row('in-kernel XICS / XIVE', `${yesNo(vmm.xics)} / ${yesNo(vmm.xive)}`);
    row('interrupt controller', where);
  }
  lines.push('VFIO');
  const container = report.vfio.container;
  row(container.path, container.open ? `open; SPAPR_TCE ${yesNo(container.spaprTce)}, SPAPR_TCE_v2 ${yesNo(container.spaprTceV2)}` : `not usable: ${container.error}`);
  if (report.vfio.groups.length === 0) row('IOMMU groups', 'none');
  for (const group of report.vfio.groups) {
    const devices = group.devices.map((d) => `${d.name} (${d.driver ?? 'no driver'})`).join(', ');
    row(`group ${group.number}`, `${group.devNode ? `/dev/vfio/${group.number}` : 'no /dev/vfio node'}, ${group.viable ? 'viable' : 'NOT viable'}: ${devices}`);
    if (group.dmaWindow) row('  new DMA window', windowLine(group.dmaWindow));
  }
  if (report.memlock) row('RLIMIT_MEMLOCK (soft / hard)', `${report.memlock.soft} / ${report.memlock.hard}`);
  lines.push(`TCE path for a passed-through device: ${TCE_PATHS[report.tcePath]}`);
  for (const warning of report.verdict.warnings) lines.push(`warning: ${warning}`);
  lines.push(verdictLine(report));
  return lines.join('\n');
}

function main(argv: string[]): number {
  const [command, ...flags] = argv;
  if (command !== 'doctor' || flags.some((flag) => flag !== '--json')) {
    console.error(USAGE);
    return 2;
  }
  const report = probe();
  console.log(flags.includes('--json') ? json(report) : table(report));
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`kvm-vfio-spapr doctor failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 2;
}
