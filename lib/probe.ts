// probe(): what this host offers for in-kernel TCE acceleration, and why not when it does not.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release } from 'node:os';
import { accessAdvice, canOpenReadWrite } from './access.js';
import { Cap, DeviceType, IommuType } from './constants.js';
import { KvmVfioError } from './errors.js';
import { Kvm, capabilityName } from './kvm.js';
import { VfioContainer } from './vfio-container.js';
import { checkOptions, checkString, invalidArgType } from './validate.js';
import { type IommuGroupDevice, iommuGroupDevices } from './vfio-group.js';
import { type GroupWindowProbe, probeGroupWindow } from './probe-windows.js';
import type { Vm } from './vm.js';

/** The sPAPR TCE hypercalls (PAPR numbers). */
export const TceHypercall = {
  /** Read one TCE. */
  H_GET_TCE: 0x1c,
  /** Write one TCE: map or unmap one IOMMU page. */
  H_PUT_TCE: 0x20,
  /** Write up to 512 TCEs from a list in guest memory. */
  H_PUT_TCE_INDIRECT: 0x104,
  /** Write one TCE value to a range of entries (usually to clear them). */
  H_STUFF_TCE: 0x138,
} as const;

/** Who answers a TCE hypercall on this kernel. */
export interface HypercallSupport {
  /** The hypercall's PAPR name. */
  name: keyof typeof TceHypercall;
  /** The hypercall's PAPR number. */
  number: number;
  /** True when the kernel can handle it itself for LIOBNs that have an in-kernel table. */
  inKernel: boolean;
  /** 'default' (always on), 'enable-cap' (after KVM_ENABLE_CAP(PPC_ENABLE_HCALL)), or why not. */
  how: string;
}

/** One IOMMU group as sysfs and /dev/vfio show it. */
export interface ProbeGroup {
  /** The IOMMU group number (/sys/kernel/iommu_groups/N). */
  number: number;
  /** /dev/vfio/N exists (a device of the group is bound to vfio-pci). */
  devNode: boolean;
  /** The group's devices and the drivers they are bound to. */
  devices: IommuGroupDevice[];
  /** No device is bound to a driver other than vfio-pci. */
  viable: boolean;
  /** New DMA windows for this group (viable groups with a /dev/vfio node, when the container offers v2). */
  dmaWindow?: GroupWindowProbe;
}

/** What {@link probe} found. Optional parts are absent when an earlier step failed (e.g. no /dev/kvm). */
export interface ProbeReport {
  /** /dev/kvm. */
  kvm: {
    /** The path probed. */
    path: string;
    /** It opened and speaks KVM API 12. */
    open: boolean;
    /** KVM_GET_API_VERSION, when open. */
    apiVersion?: number;
    /** Why it could not be used. */
    error?: string;
  };
  /** KVM_CHECK_EXTENSION on /dev/kvm and on a VM fd, by KVM_CAP_* name. */
  capabilities?: {
    /** Answers of the /dev/kvm fd. */
    system: Record<string, number>;
    /** Answers of a scratch VM's fd (on POWER these reflect the VM's HV or PR flavour). */
    vm: Record<string, number>;
    /** Why KVM_CREATE_VM failed, when it did. */
    vmError?: string;
  };
  /** The scratch VM's KVM-VFIO device. */
  kvmVfio?: {
    /** The device could be created. */
    device: boolean;
    /** It has the KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE attribute. */
    setSpaprTce: boolean;
    /** Why it could not be created. */
    error?: string;
  };
  /** Which TCE hypercalls the kernel handles itself. */
  hypercalls?: HypercallSupport[];
  /** What a pseries VMM gets from this kernel: MMU and interrupt controller. */
  vmm?: VmmSupport;
  /** VFIO: the container device and the IOMMU groups. */
  vfio: {
    /** /dev/vfio/vfio. */
    container: {
      /** The path probed. */
      path: string;
      /** It opened. */
      open: boolean;
      /** It offers the sPAPR TCE v1 IOMMU. */
      spaprTce?: boolean;
      /** It offers the sPAPR TCE v2 IOMMU (needed for in-kernel H_PUT_TCE). */
      spaprTceV2?: boolean;
      /** Why it could not be used. */
      error?: string;
    };
    /** Every IOMMU group in sysfs. */
    groups: ProbeGroup[];
  };
  /** RLIMIT_MEMLOCK of this process, in bytes ('unlimited' when unlimited). */
  memlock?: {
    /** The soft limit. */
    soft: bigint | 'unlimited';
    /** The hard limit. */
    hard: bigint | 'unlimited';
  };
  /**
   * Which path a passed-through device's TCE hypercalls would take on this host: 'in-kernel' (the
   * linkage: attachIommuGroup), 'user-space' (no linkage, but a sPAPR VFIO container:
   * kvm-vfio-spapr/spapr TceHypercalls maps each TCE with VFIO_IOMMU_MAP_DMA), or 'none'.
   */
  tcePath: 'in-kernel' | 'user-space' | 'none';
  /** The conclusion; {@link verdictLine} prints it as one line. */
  verdict: {
    /** In-kernel TCE acceleration can be used on this host. */
    available: boolean;
    /** Why it cannot (empty when available). */
    reasons: string[];
    /** What works but deserves attention (e.g. no viable group, a low RLIMIT_MEMLOCK). */
    warnings: string[];
  };
}

/** What a pseries VMM gets from this kernel (probe().vmm). */
export interface VmmSupport {
  /** KVM_PPC_GET_RMMU_INFO's radix page shifts, empty when the host offers no radix guests. */
  radixPageShifts: number[];
  /** Why KVM_PPC_GET_RMMU_INFO failed, when it did. */
  radixError?: string;
  /** Hash-MMU (HPT) guests: KVM_CAP_PPC_MMU_HASH_V3 (0 on a nested kvm-hv: radix guests only). */
  hashGuests: boolean;
  /** The in-kernel XICS device can be created (KVM_CAP_IRQ_XICS, KVM_CREATE_DEVICE test). */
  xics: boolean;
  /** The in-kernel XIVE native device can be created (KVM_CAP_PPC_IRQ_XIVE). */
  xive: boolean;
  /** Where a VMM's interrupt controller should live on this host, and what that means. */
  interruptController: 'kernel-xive' | 'kernel-xics' | 'user-space';
}

/** Options for {@link probe}: where to look (tests point these elsewhere). */
export interface ProbeOptions {
  /** The KVM device. Default '/dev/kvm'. */
  kvmPath?: string;
  /** The VFIO container device. Default '/dev/vfio/vfio'. */
  vfioPath?: string;
  /** Where sysfs is mounted (tests). */
  sysfs?: string;
}

const PROBED_CAPS = [
  Cap.SPAPR_TCE, Cap.SPAPR_TCE_64, Cap.SPAPR_TCE_VFIO, Cap.SPAPR_MULTITCE, Cap.PPC_ENABLE_HCALL, Cap.DEVICE_CTRL,
  Cap.CHECK_EXTENSION_VM, Cap.ENABLE_CAP_VM, Cap.PPC_NESTED_HV, Cap.PPC_MMU_RADIX, Cap.PPC_MMU_HASH_V3, Cap.PPC_PAPR, Cap.ONE_REG,
  Cap.IRQ_XICS, Cap.PPC_IRQ_XIVE, Cap.PPC_IRQ_LEVEL, Cap.IRQFD, Cap.IOEVENTFD, Cap.PPC_RTAS, Cap.PPC_RPT_INVALIDATE,
];

function probeVmmSupport(vm: Vm, caps: Record<string, number>): VmmSupport {
  const support: VmmSupport = { radixPageShifts: [], hashGuests: (caps.KVM_CAP_PPC_MMU_HASH_V3 ?? 0) > 0, xics: false, xive: false, interruptController: 'user-space' };
  try {
    support.radixPageShifts = vm.radixMmuInfo().geometries.map((geometry) => geometry.pageShift);
  } catch (error) {
    support.radixError = describeError(error);
  }
  const canCreate = (type: number) => {
    try {
      return vm.supportsDevice(type);
    } catch {
      return false;
    }
  };
  support.xics = (caps.KVM_CAP_IRQ_XICS ?? 0) > 0 && canCreate(DeviceType.XICS);
  support.xive = (caps.KVM_CAP_PPC_IRQ_XIVE ?? 0) > 0 && canCreate(DeviceType.XIVE);
  support.interruptController = support.xive ? 'kernel-xive' : support.xics ? 'kernel-xics' : 'user-space';
  return support;
}

function describeError(error: unknown): string {
  if (error instanceof KvmVfioError) return `${error.code}: ${error.hint}`;
  return (error as Error).message;
}

/** The error, and for a refused open (EACCES, EPERM) who may open the node and what to change. */
function describeOpenError(error: unknown, path: string, what: string): string {
  const code = error instanceof KvmVfioError ? error.code : undefined;
  const text = describeError(error);
  return code === 'EACCES' || code === 'EPERM' ? `${text} (${accessAdvice(path, what)})` : text;
}

function readMemlock(): ProbeReport['memlock'] {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max locked memory'));
    const [soft, hard] = line!.slice('Max locked memory'.length).trim().split(/\s+/);
    const parse = (value: string | undefined): bigint | 'unlimited' => (value === 'unlimited' ? 'unlimited' : BigInt(value ?? '0'));
    return { soft: parse(soft), hard: parse(hard) };
  } catch {
    return undefined;
  }
}

function listGroups(sysfs: string): ProbeGroup[] {
  let names: string[];
  try {
    names = readdirSync(`${sysfs}/kernel/iommu_groups`);
  } catch {
    return [];
  }
  return names
    .map(Number)
    .filter(Number.isInteger)
    .sort((a, b) => a - b)
    .map((number) => {
      const devices = iommuGroupDevices(number, sysfs);
      const viable = devices.every((device) => device.driver === undefined || device.driver === 'vfio-pci');
      return { number, devNode: existsSync(`/dev/vfio/${number}`), devices, viable };
    });
}

function capabilityTable(ask: (cap: number) => number): Record<string, number> {
  return Object.fromEntries(PROBED_CAPS.map((cap) => [capabilityName(cap), ask(cap)]));
}

// Seen on the emulated POWER host (6.12, nested kvm-hv): an L2 guest's H_PUT_TCE_INDIRECT gets
// H_FUNCTION without any exit to user space (test/power/user-tce.test.mjs).
const INDIRECT_ADVICE =
  'advertise "hcall-multi-tce" in ibm,hypertas-functions only if your VMM answers it (TceHypercalls) and it reaches user space; ' +
  'on a nested kvm-hv (a pseries partition) the guest gets H_FUNCTION without an exit, so leave it out there and the guest uses H_PUT_TCE';

/** Which TCE hypercalls the kernel handles itself, found out on a scratch VM. */
function probeHypercalls(vm: Vm, caps: Record<string, number>): HypercallSupport[] {
  const tables = (caps.KVM_CAP_SPAPR_TCE ?? 0) > 0;
  return (Object.entries(TceHypercall) as [keyof typeof TceHypercall, number][]).map(([name, number]) => {
    if (!tables) return { name, number, inKernel: false, how: 'no in-kernel TCE tables on this kernel' };
    if (name === 'H_PUT_TCE' || name === 'H_GET_TCE') return { name, number, inKernel: true, how: 'default' };
    if ((caps.KVM_CAP_PPC_ENABLE_HCALL ?? 0) === 0) return { name, number, inKernel: false, how: 'KVM_CAP_PPC_ENABLE_HCALL is 0' };
    try {
      vm.enableCap(Cap.PPC_ENABLE_HCALL, [BigInt(number), 1n]);
      return { name, number, inKernel: true, how: 'enable-cap' };
    } catch (error) {
      const code = error instanceof KvmVfioError ? error.code : 'error';
      return { name, number, inKernel: false, how: `KVM_ENABLE_CAP(PPC_ENABLE_HCALL) refused it: ${code}` };
    }
  });
}

function probeKvm(report: ProbeReport, kvmPath: string): void {
  let kvm: Kvm;
  try {
    kvm = Kvm.open(kvmPath);
  } catch (error) {
    report.kvm.error = describeOpenError(error, kvmPath, '/dev/kvm');
    report.verdict.reasons.push(`${kvmPath} cannot be used: ${report.kvm.error}`);
    return;
  }
  try {
    report.kvm.open = true;
    report.kvm.apiVersion = kvm.apiVersion;
    const system = capabilityTable((cap) => kvm.checkExtension(cap));
    report.capabilities = { system, vm: {} };
    let vm: Vm;
    try {
      vm = kvm.createVm();
    } catch (error) {
      report.capabilities.vmError = describeError(error);
      report.verdict.reasons.push(`KVM_CREATE_VM failed: ${report.capabilities.vmError}`);
      return;
    }
    try {
      report.capabilities.vm = capabilityTable((cap) => vm.checkExtension(cap));
      probeVm(report, vm);
    } finally {
      vm.close();
    }
  } finally {
    kvm.close();
  }
}

function probeVm(report: ProbeReport, vm: Vm): void {
  const caps = report.capabilities!.vm;
  if (!caps.KVM_CAP_SPAPR_TCE_VFIO) report.verdict.reasons.push('KVM_CAP_SPAPR_TCE_VFIO is 0 on a VM fd (not POWER, or a pseries host kernel without the 2025 fix)');
  if (!caps.KVM_CAP_SPAPR_TCE_64 && !caps.KVM_CAP_SPAPR_TCE) report.verdict.reasons.push('no in-kernel TCE tables (KVM_CAP_SPAPR_TCE and _64 are 0)');
  if (!caps.KVM_CAP_DEVICE_CTRL) report.verdict.reasons.push('KVM_CAP_DEVICE_CTRL is 0: no KVM devices');
  report.kvmVfio = { device: false, setSpaprTce: false };
  try {
    if (vm.supportsDevice(DeviceType.VFIO)) {
      const device = vm.createVfioDevice();
      report.kvmVfio.device = true;
      report.kvmVfio.setSpaprTce = device.supportsSpaprTce();
      device.close();
    }
  } catch (error) {
    report.kvmVfio.error = describeError(error);
  }
  if (!report.kvmVfio.device) report.verdict.reasons.push(`no KVM-VFIO device${report.kvmVfio.error ? `: ${report.kvmVfio.error}` : ' (CONFIG_KVM_VFIO=n)'}`);
  else if (!report.kvmVfio.setSpaprTce) report.verdict.reasons.push('the KVM-VFIO device has no SET_SPAPR_TCE attribute (CONFIG_SPAPR_TCE_IOMMU=n)');
  report.hypercalls = probeHypercalls(vm, caps);
  report.vmm = probeVmmSupport(vm, caps);
  for (const call of report.hypercalls.filter((h) => !h.inKernel && (h.name === 'H_PUT_TCE_INDIRECT' || h.name === 'H_STUFF_TCE'))) {
    report.verdict.warnings.push(`${call.name} is not handled in-kernel on this kernel (${call.how}): ${call.name === 'H_PUT_TCE_INDIRECT' ? INDIRECT_ADVICE : 'answer it in user space (kvm-vfio-spapr/spapr TceHypercalls)'}`);
  }
}

// vfio_group_find_or_alloc (drivers/vfio/vfio_main.c, since 5.19) refuses a device whose IOMMU lacks
// IOMMU_CAP_CACHE_COHERENCY; powerpc's TCE IOMMU reported no capabilities until spapr_tce_iommu_ops
// (arch/powerpc/kernel/iommu.c, 6.2). Seen on Debian's 6.1.176: "vfio-pci: probe of ... failed with error -22".
function vfioPciCannotBind(): string | undefined {
  const [major = 0, minor = 0] = release().split(/[.-]/, 2).map(Number);
  if (process.arch !== 'ppc64' || major > 6 || (major === 6 && minor >= 2) || major < 5 || (major === 5 && minor < 19)) return undefined;
  return `vfio-pci cannot bind on powerpc Linux ${major}.${minor} (probe fails with EINVAL: vfio needs IOMMU_CAP_CACHE_COHERENCY, which powerpc's TCE IOMMU reports from 6.2); boot 6.2 or later`;
}

function probeVfio(report: ProbeReport, vfioPath: string, sysfs: string): void {
  const entry = report.vfio.container;
  try {
    using container = VfioContainer.open(vfioPath);
    entry.open = true;
    entry.spaprTce = container.checkExtension(IommuType.SPAPR_TCE) > 0;
    entry.spaprTceV2 = container.checkExtension(IommuType.SPAPR_TCE_V2) > 0;
  } catch (error) {
    entry.error = describeOpenError(error, vfioPath, 'the VFIO container');
  }
  if (!entry.open) report.verdict.reasons.push(`${vfioPath} cannot be used: ${entry.error}`);
  else if (!entry.spaprTceV2) report.verdict.reasons.push('the VFIO container offers no SPAPR_TCE_v2 IOMMU (load vfio_iommu_spapr_tce; not POWER?)');
  report.vfio.groups = listGroups(sysfs);
  const usable = report.vfio.groups.filter((group) => group.devNode && group.viable);
  if (usable.length === 0) report.verdict.warnings.push(`no viable VFIO group: ${vfioPciCannotBind() ?? 'bind a device (every device of its IOMMU group) to vfio-pci'}`);
  for (const group of usable.filter((g) => !canOpenReadWrite(`/dev/vfio/${g.number}`))) {
    report.verdict.warnings.push(`group ${group.number} cannot be opened by this process: ${accessAdvice(`/dev/vfio/${group.number}`, 'the VFIO group')}`);
  }
  if (entry.spaprTceV2) probeWindows(report, usable.filter((g) => canOpenReadWrite(`/dev/vfio/${g.number}`)), vfioPath);
  for (const group of report.vfio.groups.filter((g) => g.devNode && !g.viable)) {
    const blockers = group.devices.filter((d) => d.driver && d.driver !== 'vfio-pci').map((d) => `${d.name} (${d.driver})`);
    report.verdict.warnings.push(`group ${group.number} is not viable: ${blockers.join(', ')} not bound to vfio-pci`);
  }
}

function probeWindows(report: ProbeReport, groups: ProbeGroup[], vfioPath: string): void {
  for (const group of groups) {
    group.dmaWindow = probeGroupWindow(group.number, vfioPath);
    const tried = group.dmaWindow.pageShift !== undefined;
    if (tried && !group.dmaWindow.creatable) report.verdict.warnings.push(`group ${group.number}: no new DMA window (${group.dmaWindow.limit}); attachIommuGroup with iommu 'v1' uses the default window instead`);
  }
}

/**
 * Probes /dev/kvm, a scratch VM, its KVM-VFIO device, /dev/vfio and the IOMMU groups, and says
 * whether in-kernel TCE acceleration is available here, and if not, why. `npx kvm-vfio-spapr doctor`
 * prints this report.
 *
 * @example
 * const report = probe();
 * console.log(verdictLine(report)); // 'in-kernel TCE acceleration: available'
 * for (const warning of report.verdict.warnings) console.warn(warning);
 */
export function probe(options: ProbeOptions = {}): ProbeReport {
  const { kvmPath = '/dev/kvm', vfioPath = '/dev/vfio/vfio', sysfs = '/sys' } = checkOptions<ProbeOptions>('options', options);
  checkString('options.kvmPath', kvmPath);
  checkString('options.vfioPath', vfioPath);
  checkString('options.sysfs', sysfs);
  const report: ProbeReport = {
    kvm: { path: kvmPath, open: false },
    vfio: { container: { path: vfioPath, open: false }, groups: [] },
    tcePath: 'none',
    verdict: { available: false, reasons: [], warnings: [] },
  };
  probeKvm(report, kvmPath);
  probeVfio(report, vfioPath, sysfs);
  const memlock = readMemlock();
  if (memlock) report.memlock = memlock;
  if (memlock && memlock.soft !== 'unlimited' && memlock.soft < 64n << 20n) {
    report.verdict.warnings.push(`RLIMIT_MEMLOCK is ${memlock.soft} bytes: TCE tables and registered guest memory count against it (raise it, or run with CAP_IPC_LOCK)`);
  }
  report.verdict.available = report.verdict.reasons.length === 0;
  const container = report.vfio.container;
  report.tcePath = report.verdict.available ? 'in-kernel' : container.spaprTce || container.spaprTceV2 ? 'user-space' : 'none';
  if (report.verdict.available) {
    report.verdict.warnings.push('in-kernel H_PUT_TCE for a VFIO-linked LIOBN needs the guest memory registered with a SPAPR_TCE_v2 container (attachIommuGroup options.memory); without it every H_PUT_TCE exits to user space');
  }
  return report;
}

/** The verdict as one line: 'in-kernel TCE acceleration: available' or '... not available because ...'. */
export function verdictLine(report: ProbeReport): string {
  const verdict: unknown = checkOptions<ProbeReport>('report', report).verdict;
  if (typeof verdict !== 'object' || verdict === null || !Array.isArray((verdict as ProbeReport['verdict']).reasons)) {
    throw invalidArgType('report', 'a report from probe()', report);
  }
  return report.verdict.available
    ? 'in-kernel TCE acceleration: available'
    : `in-kernel TCE acceleration: not available because ${report.verdict.reasons.join('; ')}`;
}
