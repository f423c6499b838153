// A pseries machine on the library's public API: guest RAM, the kernel, initramfs, device tree and
// RTAS blob in it, one run loop per vCPU, and the hypercalls and RTAS calls Linux makes while it
// boots. Everything KVM handles itself (H_CEDE, H_REGISTER_VPA, the decrementer, ...) never
// reaches this file.
import { Cap, DeviceType, GuestMemory, HcallReturn, type HypercallAnswer, type HypercallExit, Kvm, type KvmDevice, OneReg, type RunResult, type Vcpu, type Vm } from 'kvm-vfio-spapr';
import { H, HcallTable, HvTerminal, Rtas, type RtasHandler, SpaprPciBridges, TceHypercalls, type UserTceTable, Xics, standardRtasCalls } from 'kvm-vfio-spapr/spapr';
import { type MachineLayout, VTY_REG, COMMAND_LINE_MAX, XICS_PHANDLE, buildDeviceTree } from './device-tree.js';
import { MachineConfigError } from './machine-config-error.js';
import type { TcePath } from './dma.js';
import { type InterruptController, PassedThroughFunction, type PassthroughReport } from './passthrough.js';
import type { KernelImage } from './kernel-image.js';

/** What the VMM was asked to run. */
export interface MachineOptions {
  kernel: KernelImage;
  initrd: Uint8Array;
  /** Guest RAM in bytes. */
  memorySize: bigint;
  commandLine: string;
  cpus: number;
  /**
   * Where the XICS interrupt controller lives: 'kernel' (the KVM XICS device: H_XIRR, H_CPPR,
   * H_EOI, H_IPI and the XICS RTAS calls never leave the kernel), 'user' (lib/spapr's Xics in
   * JavaScript, raising each vCPU's line with KVM_INTERRUPT), or 'auto' (default: the kernel's
   * where it offers KVM_CAP_IRQ_XICS).
   */
  irqchip?: 'kernel' | 'user' | 'auto';
  /** Where the guest's console output goes. */
  output(bytes: Uint8Array): void;
  /** Console text whose first appearance the report times (e.g. the initramfs's marker). */
  marker?: string;
  /**
   * PCI functions bound to vfio-pci (e.g. '0001:00:00.0') to pass through, each on a PHB of its
   * own whose DMA window's LIOBN is linked to the function's IOMMU group (attachIommuGroup), so the
   * guest's TCE hypercalls for it are handled in the kernel.
   */
  passthrough?: readonly string[];
  /**
   * Where the guest's TCE hypercalls for passed-through functions are answered: 'kernel' (default:
   * the LIOBN is linked to the group, none reaches this VMM) or 'user' (this VMM keeps each table in
   * JavaScript and maps every TCE through the VFIO container; every one is an exit).
   */
  tce?: TcePath;
}

/** How the guest's run went. */
export interface BootReport {
  /** The guest asked RTAS to power off. */
  poweredOff: boolean;
  /** Milliseconds from the VM's creation to power-off (or to the end of the run). */
  milliseconds: number;
  /** Exits that reached this VMM, by reason, over every vCPU. */
  exitsByReason: Record<string, bigint>;
  /** Hypercalls that reached this VMM, by name. */
  hypercalls: Record<string, number>;
  /** RTAS calls by name. */
  rtasCalls: Record<string, number>;
  /** Exits KVM handled without this VMM (the kernel's sum_exits minus those that reached it). */
  exitsInKernel: bigint;
  /** Where the interrupt controller ran. */
  irqchip: 'kernel' | 'user';
  /** Milliseconds from the VM's creation to the marker's first appearance on the console. */
  markerMilliseconds?: number;
  /**
   * Where exits were answered: 'vcpu-thread' (runSync: KVM_RUN and the handlers on one Worker
   * thread, the fastest path) or 'event-loop' (run(): each exit hops to the JavaScript thread).
   */
  exitPath: 'vcpu-thread' | 'event-loop';
  /** Each passed-through function: its BAR slots and how its INTx reached the guest. */
  passthrough: PassthroughReport[];
}

export { MachineConfigError } from './machine-config-error.js';

const MiB = 1n << 20n;
const ALIGN = 64n * 1024n;
const FDT_ROOM = 64n * 1024n;
const RTAS_SIZE = 64n * 1024n;
/** Room above everything loaded for the kernel's own early allocations. */
const HEADROOM = 64n * MiB;
export const MIN_MEMORY = 128n * MiB;
const MSR_SF_ME_LE = 0x8000000000001001n;
const LPCR_ILE = 1n << 25n;
const TIMEBASE_HZ = 512_000_000; // POWER9's timebase
const H_P2 = -55n;
const H_SET_MODE_RESOURCE_LE = 4n;
const PROC_TABLE_RADIX = 0x04n;
const PROC_TABLE_GTSE = 0x01n;
const PROC_TABLE_OP_MASK = 0x18n;
const PROC_TABLE_NEW = 0x18n;
const RTAS_CPU_STOPPED = 0;
const RTAS_CPU_RUNNING = 2;

const XICS_RTAS_CALLS = ['ibm,set-xive', 'ibm,get-xive', 'ibm,int-off', 'ibm,int-on'];
// The kernel XICS creates a source only when user space defines it (arch/powerpc/kvm/book3s_xics.c
// xics_set_source); ibm,set-xive on an undefined one fails. Bits from arch/powerpc/include/uapi/asm/kvm.h:
// KVM_XICS_LEVEL_SENSITIVE | KVM_XICS_MASKED | priority 0xff (least favoured) << KVM_XICS_PRIORITY_SHIFT.
const KVM_DEV_XICS_GRP_SOURCES = 1;
const XICS_LEVEL_MASKED = (1n << 40n) | (1n << 41n) | (0xffn << 32n);
const XICS_TOKEN_BASE = 0x3000;

function wantsKernelXics(irqchip: 'kernel' | 'user' | 'auto', vm: Vm): boolean {
  if (irqchip === 'user') return false;
  return irqchip === 'kernel' || vm.checkExtension(Cap.IRQ_XICS) > 0;
}

const alignUp = (value: bigint, to: bigint) => ((value + to - 1n) / to) * to;

/** Where the kernel, initramfs, FDT and RTAS go; checks the inputs fit. */
export function planLayout(options: Pick<MachineOptions, 'kernel' | 'initrd' | 'memorySize' | 'commandLine' | 'cpus' | 'irqchip' | 'tce'>): MachineLayout & { fdtAddress: bigint } {
  if (Buffer.byteLength(options.commandLine) > COMMAND_LINE_MAX) {
    throw new MachineConfigError(`the kernel command line is ${Buffer.byteLength(options.commandLine)} bytes: Linux on POWER takes at most ${COMMAND_LINE_MAX} (COMMAND_LINE_SIZE, arch/powerpc/include/uapi/asm/setup.h)`);
  }
  if (!Number.isInteger(options.cpus) || options.cpus < 1 || options.cpus > 64) throw new MachineConfigError(`--cpus must be 1..64, not ${options.cpus}`);
  if (!['kernel', 'user', 'auto', undefined].includes(options.irqchip)) throw new MachineConfigError(`--irqchip must be kernel, user or auto, not ${options.irqchip}`);
  if (!['kernel', 'user', undefined].includes(options.tce)) throw new MachineConfigError(`--tce must be kernel or user, not ${options.tce}`);
  const initrdStart = alignUp(options.kernel.end, ALIGN);
  const initrdEnd = initrdStart + BigInt(options.initrd.length);
  const fdtAddress = alignUp(initrdEnd, ALIGN);
  const rtasBase = alignUp(fdtAddress + FDT_ROOM, ALIGN);
  const needed = alignUp(rtasBase + RTAS_SIZE + HEADROOM, MiB);
  const minimum = needed > MIN_MEMORY ? needed : MIN_MEMORY;
  if (options.memorySize < minimum) {
    throw new MachineConfigError(`${options.memorySize / MiB} MiB of memory is too little: the kernel (${options.kernel.end / MiB} MiB), the initramfs (${BigInt(options.initrd.length) / MiB} MiB) and the kernel's early allocations need at least ${minimum / MiB} MiB`);
  }
  return {
    memorySize: options.memorySize, cpus: options.cpus, initrdStart, initrdEnd, rtasBase, rtasSize: RTAS_SIZE,
    commandLine: options.commandLine, radixApEncodings: [], timebaseHz: TIMEBASE_HZ, fdtAddress,
  };
}

/** The machine: create(), then run() until the guest powers off; close() frees everything. */
export class SpaprMachine implements Disposable {
  readonly #kvm: Kvm;
  readonly #vm: Vm;
  readonly #memory: GuestMemory;
  readonly #vcpus: Vcpu[] = [];
  readonly #started = new Set<number>();
  readonly #runs: Promise<RunResult>[] = [];
  readonly #hcalls = new HcallTable();
  readonly #rtas: Rtas;
  readonly #xics: Xics;
  #kernelXics: KvmDevice | undefined;
  readonly #pci = new SpaprPciBridges();
  readonly #passedThrough: PassedThroughFunction[] = [];
  readonly #layout: ReturnType<typeof planLayout>;
  readonly #createdAt = performance.now();
  #current = 0; // the vCPU whose exit is being handled (one JavaScript thread: one at a time)
  #poweredOff = false;
  #poweredOffAt = 0;
  #markerAt: number | undefined;
  #exitPath: BootReport['exitPath'] = 'event-loop';

  private constructor(options: MachineOptions, layout: ReturnType<typeof planLayout>) {
    this.#layout = layout;
    this.#kvm = Kvm.open();
    try {
      this.#vm = this.#kvm.createVm();
      this.#memory = GuestMemory.allocate(options.memorySize);
      this.#vm.setMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: this.#memory });
      this.#rtas = new Rtas(new DataView(this.#memory.buffer));
      this.#xics = new Xics({
        servers: options.cpus, sources: 1024, currentServer: () => this.#current,
        setLine: (server, raised) => this.#vcpus[server]?.setExternalInterrupt(raised),
      });
      if (wantsKernelXics(options.irqchip ?? 'auto', this.#vm)) this.#kernelXics = this.#vm.createDevice(DeviceType.XICS);
      for (let id = 0; id < options.cpus; id++) this.#vcpus.push(this.#createVcpu(id));
      (options.passthrough ?? []).forEach((address, i) => this.#passThrough(address, i + 1, options.tce ?? 'kernel'));
      this.#installHypercalls(options);
      this.#load(options);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Plans the layout (throwing a MachineConfigError before any VM exists), then builds the machine. */
  static create(options: MachineOptions): SpaprMachine {
    return new SpaprMachine(options, planLayout(options));
  }

  #createVcpu(id: number): Vcpu {
    const vcpu = this.#vm.createVcpu(id);
    vcpu.enableCap(Cap.PPC_PAPR);
    vcpu.setOneReg(OneReg.LPCR_64!, vcpu.getOneReg(OneReg.LPCR_64!) | LPCR_ILE); // a little-endian kernel takes interrupts LE
    if (this.#kernelXics) vcpu.connectXics(this.#kernelXics, id);
    return vcpu;
  }

  /** Puts the function on a new PHB whose DMA window is linked to its group or kept here (passthrough.ts). */
  #passThrough(address: string, index: number, tce: TcePath): void {
    this.#passedThrough.push(new PassedThroughFunction({
      vm: this.#vm, memory: this.#memory, address, index, pci: this.#pci, interrupts: this.#interruptController(), xicsPhandle: XICS_PHANDLE, tce,
    }));
  }

  #interruptController(): InterruptController {
    const xics = this.#kernelXics;
    if (!xics) return { kind: 'user', xics: this.#xics };
    return { kind: 'kernel', firstIrq: this.#xics.firstIrq, defineLevelSource: (irq) => xics.setAttr(KVM_DEV_XICS_GRP_SOURCES, irq, XICS_LEVEL_MASKED) };
  }

  #installHypercalls(options: MachineOptions): void {
    new HvTerminal({ write: this.#watchForMarker(options), termno: VTY_REG }).register(this.#hcalls);
    this.#hcalls.on(H.H_RTAS, (args) => this.#rtas.handle(args[0]!));
    this.#hcalls.on(H.H_SET_MODE, (args) => this.#setMode(args));
    this.#hcalls.on(H.H_REGISTER_PROC_TBL, (args) => this.#registerProcessTable(args));
    // Zero characteristics and behaviours: no speculation flushes (the host itself runs with cap-cfpc=broken and friends).
    this.#hcalls.on(H.H_GET_CPU_CHARACTERISTICS, () => ({ ret: HcallReturn.H_SUCCESS, args: [0n, 0n] }));
    const calls: Record<string, RtasHandler> = {
      ...standardRtasCalls({ powerOff: () => this.#powerOff(), reboot: () => this.#powerOff() }),
      'start-cpu': (args) => this.#startCpu(args),
      'query-cpu-stopped-state': (args) => [0, this.#started.has(args[0]!) ? RTAS_CPU_RUNNING : RTAS_CPU_STOPPED],
      'stop-self': () => {
        this.#vcpus[this.#current]?.stop();
        return [0];
      },
    };
    if (this.#pci.phbs.length > 0) Object.assign(calls, this.#pci.rtasCalls());
    this.#answerUserTces();
    for (const [name, handler] of Object.entries(calls)) this.#rtas.define(name, handler);
    if (this.#kernelXics) this.#giveXicsCallsToKernel();
    else this.#xics.register(this.#hcalls, this.#rtas);
  }

  // The device tree offers hcall-tce alone, so the guest maps and unmaps with H_PUT_TCE only: a nested
  // kvm-hv answers H_PUT_TCE_INDIRECT with H_FUNCTION before user space (test/power/user-tce.test.mjs),
  // and hcall-multi-tce would offer it with H_STUFF_TCE.
  #answerUserTces(): void {
    const tables = this.#passedThrough.map((fn) => fn.tceTable).filter((table): table is UserTceTable => table !== undefined);
    if (tables.length > 0) new TceHypercalls(tables).register(this.#hcalls, { indirect: false });
  }

  // The kernel answers the XICS RTAS calls once it knows their tokens (book3s_rtas.c).
  #giveXicsCallsToKernel(): void {
    XICS_RTAS_CALLS.forEach((name, i) => {
      const token = XICS_TOKEN_BASE + i;
      this.#vm.defineRtasToken(name, token);
      this.#rtas.defineToken(name, token);
    });
  }

  #watchForMarker(options: MachineOptions): (bytes: Uint8Array) => void {
    const marker = options.marker;
    if (!marker) return options.output;
    let tail = '';
    return (bytes) => {
      options.output(bytes);
      if (this.#markerAt !== undefined) return;
      tail = (tail + Buffer.from(bytes).toString('latin1')).slice(-(marker.length + 64));
      if (tail.includes(marker)) this.#markerAt = performance.now();
    };
  }

  #load(options: MachineOptions): void {
    const ram = new Uint8Array(this.#memory.buffer);
    for (const segment of options.kernel.segments) ram.set(segment.bytes, Number(segment.address));
    ram.set(options.initrd, Number(this.#layout.initrdStart));
    ram.set(Rtas.blob(), Number(this.#layout.rtasBase));
    const layout = { ...this.#layout, radixApEncodings: this.#vm.radixMmuInfo().apEncodings };
    const fdt = buildDeviceTree(layout, this.#rtas, this.#xics, this.#pci.phbs);
    if (BigInt(fdt.length) > FDT_ROOM) throw new MachineConfigError(`the device tree is ${fdt.length} bytes, more than the ${FDT_ROOM} reserved for it`);
    ram.set(fdt, Number(this.#layout.fdtAddress));
    this.#vcpus[0]!.setRegs({ pc: options.kernel.entry, msr: MSR_SF_ME_LE, gpr: [0n, 0n, 0n, this.#layout.fdtAddress, 0n, 0n] });
  }

  #setMode(args: readonly bigint[]): HypercallAnswer {
    const [mflags, resource] = args;
    if (resource !== H_SET_MODE_RESOURCE_LE) return { ret: H_P2 }; // address translation mode (AIL): not offered
    // Every vCPU starts with LPCR_ILE set; a kernel asking for big-endian interrupts is refused.
    return { ret: mflags === 1n ? HcallReturn.H_SUCCESS : H_P2 };
  }

  #registerProcessTable(args: readonly bigint[]): HypercallAnswer {
    const [flags, base, , tableSize] = args as [bigint, bigint, bigint, bigint];
    if ((flags & PROC_TABLE_OP_MASK) !== PROC_TABLE_NEW || (flags & PROC_TABLE_RADIX) === 0n) return { ret: HcallReturn.H_PARAMETER };
    this.#vm.configureRadixMmu({ processTable: base | tableSize, gtse: (flags & PROC_TABLE_GTSE) !== 0n });
    return { ret: HcallReturn.H_SUCCESS };
  }

  #startCpu(args: readonly number[]): number[] {
    const [id, entry, r3] = args as [number, number, number];
    const vcpu = this.#vcpus[id];
    if (!vcpu || this.#started.has(id)) return [-3];
    vcpu.setRegs({ pc: BigInt(entry), msr: MSR_SF_ME_LE, gpr: [0n, 0n, 0n, BigInt(r3)] });
    this.#startRun(id);
    return [0];
  }

  #powerOff(): void {
    this.#poweredOff = true;
    this.#poweredOffAt = performance.now();
    for (const vcpu of this.#vcpus) vcpu.stop();
  }

  #handlersOf(id: number) {
    return {
      hypercall: (call: HypercallExit) => {
        this.#current = id;
        const answer = this.#hcalls.dispatch(call.nr, call.args);
        return this.#poweredOff ? 'stop' as const : answer;
      },
      exit: () => 'stop' as const,
    };
  }

  #startRun(id: number): void {
    if (this.#exitPath === 'vcpu-thread') throw new MachineConfigError('start-cpu on a machine run with runOnThisThread(): give it one vCPU, or use run()');
    this.#started.add(id);
    this.#runs.push(this.#vcpus[id]!.run(this.#handlersOf(id)));
  }

  /**
   * The fastest exit path: runs the only vCPU with vcpu.runSync() on this thread (call it in a
   * Worker), each exit answered here without a thread hop; returns when the guest powers off or
   * another thread calls Vcpu.kick(stopFlag). One vCPU only: this thread cannot run a second.
   */
  runOnThisThread(stopFlag?: Int32Array): BootReport {
    if (this.#vcpus.length !== 1) throw new MachineConfigError(`runOnThisThread() runs one vCPU, this machine has ${this.#vcpus.length}: use run()`);
    if (this.#passedThrough.some((fn) => fn.needsEventLoop)) throw new MachineConfigError('a passed-through INTx goes to the XICS in JavaScript through an eventfd watched on the event loop, which runOnThisThread() blocks: use run(), or the kernel\'s XICS (--irqchip kernel)');
    this.#exitPath = 'vcpu-thread';
    this.#started.add(0);
    const result = this.#vcpus[0]!.runSync(this.#handlersOf(0), stopFlag ? { stopFlag } : {});
    return this.#report([result]);
  }

  /** Runs the guest until it powers off (or `timeoutMs` passes); resolves with the report. */
  async run(timeoutMs?: number): Promise<BootReport> {
    this.#startRun(0);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.#vcpus.forEach((vcpu) => vcpu.stop()), timeoutMs);
    try {
      let settled = 0;
      const results: RunResult[] = [];
      while (settled < this.#runs.length) results.push(await this.#runs[settled++]!); // start-cpu may add runs meanwhile
      return this.#report(results);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  #report(results: RunResult[]): BootReport {
    const exitsByReason: Record<string, bigint> = {};
    let delivered = 0n;
    for (const result of results) {
      delivered += result.exits;
      for (const [reason, count] of Object.entries(result.exitsByReason)) exitsByReason[reason] = (exitsByReason[reason] ?? 0n) + count;
    }
    const kernelExits = this.#vcpus.reduce((sum, vcpu) => sum + ((vcpu.stats().sum_exits as bigint | undefined) ?? 0n), 0n);
    const names = (counts: ReadonlyMap<unknown, number>, name: (key: never) => string) => Object.fromEntries([...counts].map(([key, count]) => [name(key as never), count]));
    return {
      poweredOff: this.#poweredOff,
      milliseconds: (this.#poweredOff ? this.#poweredOffAt : performance.now()) - this.#createdAt,
      exitsByReason,
      hypercalls: names(this.#hcalls.counts, (nr: bigint) => HcallTable.nameOf(nr)),
      rtasCalls: names(this.#rtas.counts, (name: string) => name),
      exitsInKernel: kernelExits > delivered ? kernelExits - delivered : 0n,
      irqchip: this.#kernelXics ? 'kernel' : 'user',
      exitPath: this.#exitPath,
      passthrough: this.#passedThrough.map((fn) => fn.report()),
      ...(this.#markerAt === undefined ? {} : { markerMilliseconds: this.#markerAt - this.#createdAt }),
    };
  }

  /** Closes every vCPU, the VM, its memory and /dev/kvm. Idempotent. */
  close(): void {
    for (const vcpu of this.#vcpus) vcpu.close();
    for (const fn of this.#passedThrough.splice(0)) fn.close();
    this.#kernelXics?.close();
    this.#vm?.close();
    this.#memory?.close();
    this.#kvm.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
