// A vCPU: registers (ppc64 layout), ONE_REG, binary stats, and run(), where KVM_RUN runs on a
// dedicated native thread and each exit is answered by JavaScript. Kernel: virt/kvm/kvm_main.c
// (kvm_vcpu_ioctl), arch/powerpc/kvm/powerpc.c (kvm_arch_vcpu_ioctl_run), book3s_hv.c.
import { Cap, DeviceType } from './constants.js';
import { KvmDevice } from './device.js';
import { isMainThread } from 'node:worker_threads';
import { KvmVfioError, syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject, fdOf, requireConstructing } from './handle.js';
import { native, type MappedRegion, type NativeAnswer, type NativeExit, type NativeRunResult } from './native.js';
import { ExitRecord } from './exit-record.js';
import { checkBigU64, checkBoolean, checkInstance, checkInteger, checkOptions, invalidArgType, invalidArgValue, outOfRange } from './validate.js';
import { type EnableCapArgs, enableCapOn } from './vm.js';
import type { Vm } from './vm.js';

/** KVM_EXIT_* reasons (include/uapi/linux/kvm.h). */
export const ExitReason = {
  /** An exit KVM could not classify. */
  UNKNOWN: 0,
  /** A guest exception user space must handle. */
  EXCEPTION: 1,
  /** Port I/O (x86). */
  IO: 2,
  /** A KVM hypercall (x86). */
  HYPERCALL: 3,
  /** A debug event. */
  DEBUG: 4,
  /** The guest halted. */
  HLT: 5,
  /** An access to guest-physical memory with no memslot (or a read-only one). */
  MMIO: 6,
  /** The guest shut down (triple fault). */
  SHUTDOWN: 8,
  /** The hardware refused to enter the guest. */
  FAIL_ENTRY: 9,
  /** A signal interrupted KVM_RUN. */
  INTR: 10,
  /** KVM could not run the vCPU (suberror says why). */
  INTERNAL_ERROR: 17,
  /** An OSI hypercall (powerpc PR). */
  OSI: 18,
  /** A PAPR hypercall (sc 1) the kernel left to user space. */
  PAPR_HCALL: 19,
  /** An external proxy interrupt (booke). */
  EPR: 23,
  /** A system event: shutdown, reset, crash. */
  SYSTEM_EVENT: 24,
} as const;

/** PAPR hypercall return codes (H_SUCCESS and the common failures). */
export const HcallReturn = {
  /** The call succeeded. */
  H_SUCCESS: 0n,
  /** A hardware error. */
  H_HARDWARE: -1n,
  /** Not supported (the default answer for hypercalls a handler does not know). */
  H_FUNCTION: -2n,
  /** The caller may not make this call. */
  H_PRIVILEGE: -3n,
  /** A bad argument, e.g. an IO bus address outside the table. */
  H_PARAMETER: -4n,
  /** The kernel's internal "let user space do it"; guests never see it. */
  H_TOO_HARD: 9999n,
} as const;

/** ONE_REG ids by name, from the target's headers (ppc64: LPCR_64, FPSCR, FPR0..FPR31, ...). */
export const OneReg: Readonly<Record<string, bigint>> = Object.freeze({ ...native.oneRegIds });

/** The ppc64 struct kvm_regs. */
export interface PpcRegs {
  /** The next instruction address. */
  pc: bigint;
  /** Condition register. */
  cr: bigint;
  /** Count register. */
  ctr: bigint;
  /** Link register. */
  lr: bigint;
  /** Fixed-point exception register. */
  xer: bigint;
  /** Machine state register (e.g. 0x8000000000001001n: 64-bit, machine check on, little-endian, real mode). */
  msr: bigint;
  /** Save/restore register 0: where an interrupt was taken. */
  srr0: bigint;
  /** Save/restore register 1: the MSR at the interrupt. */
  srr1: bigint;
  /** Process id. */
  pid: bigint;
  /** SPRG0..SPRG7. */
  sprg: bigint[];
  /** GPR0..GPR31. */
  gpr: bigint[];
}

const SCALAR_REGS = ['pc', 'cr', 'ctr', 'lr', 'xer', 'msr', 'srr0', 'srr1', 'pid'] as const;
const SPRG_OFFSET = 9;
const GPR_OFFSET = 17;
const REGS_WORDS = 49;

/** A KVM_EXIT_PAPR_HCALL: the guest's `sc 1` with r3 = nr and r4..r12 = args. */
export interface HypercallExit {
  /** Always ExitReason.PAPR_HCALL. */
  reason: typeof ExitReason.PAPR_HCALL;
  /** The hypercall number (r3), e.g. 0x20n for H_PUT_TCE. */
  nr: bigint;
  /** Its nine arguments (r4..r12). */
  args: readonly bigint[];
}

/** A KVM_EXIT_MMIO: a guest access to an address no memory slot covers. */
export interface MmioExit {
  /** Always ExitReason.MMIO. */
  reason: typeof ExitReason.MMIO;
  /** The guest-physical address. */
  address: bigint;
  /** The access's width in bytes (1..8). */
  length: number;
  /** A store (true) or a load (false). */
  isWrite: boolean;
  /** A store's bytes, in address order as on the bus. */
  data?: Uint8Array;
}

/** Any other exit. */
export interface OtherExit {
  /** KVM_EXIT_* (see ExitReason). */
  reason: number;
  /** For KVM_EXIT_INTERNAL_ERROR: KVM_INTERNAL_ERROR_*. */
  suberror?: number;
  /** For KVM_EXIT_SYSTEM_EVENT: KVM_SYSTEM_EVENT_* (1 shutdown, 2 reset, 3 crash). */
  type?: number;
  /** For KVM_EXIT_INTERNAL_ERROR and KVM_EXIT_SYSTEM_EVENT: the kernel's data words. */
  data?: readonly bigint[];
}

/** How a hypercall is answered: `ret` goes to r3; `args[i]`, where given, to r(4+i). */
export interface HypercallAnswer {
  /** The return code for r3 (HcallReturn), as a u64 or a negative bigint. */
  ret: bigint;
  /** Values for r4.. where given (e.g. H_GET_TCE returns the TCE in r4); others keep the guest's. */
  args?: (bigint | undefined)[];
}

/** What `run()` calls on each exit. A handler that returns 'stop' ends the run. */
export interface RunHandlers {
  /** A hypercall the kernel left to user space. Default: answer H_FUNCTION. */
  hypercall?(call: HypercallExit): HypercallAnswer | 'stop';
  /**
   * An MMIO access. For a load, return its bytes (a Uint8Array of `length`, address order);
   * anything else reads as zeros. Default: loads read zeros, stores are dropped.
   */
  mmio?(access: MmioExit): Uint8Array | 'stop' | void;
  /** Any other exit. Default: stop. */
  exit?(exit: OtherExit): 'continue' | 'stop';
}

/** Options of {@link Vcpu.run}. */
export interface RunOptions {
  /** Stop the run after this long (the vCPU is kicked out of KVM_RUN). */
  timeoutMs?: number;
  /** Test aid: load canaries into f14-f31 on the run thread and report whether they survived. */
  fpCanary?: boolean;
}

/** How a run ended. */
export interface RunResult {
  /** 'handler' (a handler said stop), 'stopped' (stop() or the timeout). */
  outcome: 'handler' | 'stopped';
  /** KVM_RUN calls made. */
  runs: bigint;
  /** Exits delivered to JavaScript. */
  exits: bigint;
  /** Hypercall exits among them. */
  hypercalls: bigint;
  /** Exits delivered to JavaScript, by ExitReason name (e.g. { PAPR_HCALL: 812n, MMIO: 3n }). */
  exitsByReason: Record<string, bigint>;
  /**
   * KVM_RUN calls after which f14-f31 or v20-v31 came back changed (then restored by the run
   * thread): the emulated POWER host's trap, counted.
   */
  fpClobbers: bigint;
  /** With fpCanary: the canaries in f14-f31 survived every KVM_RUN. */
  fpCanaryIntact: boolean;
  /** The exit that ended the run, when a handler stopped it. */
  lastExit: HypercallExit | MmioExit | OtherExit | undefined;
}

/** Handlers of {@link Vcpu.runSync}: those of run(), plus the allocation-free hypercall path. */
export interface RunSyncHandlers extends RunHandlers {
  /**
   * Answers every hypercall without allocating: `registers` is [nr, r4..r12], the same array on
   * every call; return r3 (HcallReturn) and write registers[1..9] to change r4..r12, or return
   * 'stop'. When given, `hypercall` is not called.
   */
  registerHypercall?(registers: BigUint64Array): bigint | 'stop';
}

/** Options of {@link Vcpu.runSync}. */
export interface RunSyncOptions {
  /** An Int32Array over a SharedArrayBuffer: another thread stops the run with Vcpu.kick(stopFlag). */
  stopFlag?: Int32Array;
}

function checkStopFlag(name: string, flag: unknown): Int32Array {
  if (!(flag instanceof Int32Array) || !(flag.buffer instanceof SharedArrayBuffer) || flag.length < 1) {
    throw invalidArgType(name, 'an Int32Array over a SharedArrayBuffer', flag);
  }
  return flag;
}

// The answers that carry nothing, shared by every exit (native code and ExitRecord only read them).
const STOP: NativeAnswer = Object.freeze({ stop: true });
const CONTINUE: NativeAnswer = Object.freeze({});

/** Hands each exit to the handlers and counts them, for run() and runSync() alike. */
class ExitTally {
  // Counted as numbers (a BigInt add allocates, once per exit) and handed out as BigInts.
  #hypercalls = 0;
  readonly #byReason: number[] = new Array<number>(64).fill(0); // indexed by KVM_EXIT_*
  lastExit: RunResult['lastExit'];
  readonly dispatch: (exit: NativeExit) => NativeAnswer;

  constructor(handlers: RunHandlers) {
    this.dispatch = (exit) => {
      this.#byReason[exit.reason] = (this.#byReason[exit.reason] ?? 0) + 1;
      if (exit.reason === ExitReason.PAPR_HCALL) {
        this.#hypercalls += 1;
        const call = exit as HypercallExit; // a fresh object per exit from either path: no copy needed
        this.lastExit = call;
        const answer = handlers.hypercall ? handlers.hypercall(call) : { ret: HcallReturn.H_FUNCTION };
        return answer === 'stop' ? STOP : { ret: BigInt.asUintN(64, answer.ret), ...(answer.args ? { args: answer.args } : {}) };
      }
      if (exit.reason === ExitReason.MMIO) {
        const access = exit as MmioExit;
        this.lastExit = access;
        return mmioAnswer(access, handlers.mmio ? handlers.mmio(access) : undefined);
      }
      this.lastExit = exit as OtherExit;
      return (handlers.exit ? handlers.exit(this.lastExit) : 'stop') === 'continue' ? CONTINUE : STOP;
    };
  }

  get hypercalls(): bigint {
    return BigInt(this.#hypercalls);
  }

  /** Exits by ExitReason name. */
  byReasonName(): Record<string, bigint> {
    const named: Record<string, bigint> = {};
    this.#byReason.forEach((count, reason) => {
      if (count > 0) named[REASON_NAMES.get(reason) ?? String(reason)] = BigInt(count);
    });
    return named;
  }

  /** Counts the register path's hypercalls after the run; `stoppedAt` holds the one that said stop. */
  addRegisterHypercalls(count: bigint, stoppedAt: BigUint64Array | undefined): void {
    if (count === 0n) return;
    this.#hypercalls += Number(count);
    this.#byReason[ExitReason.PAPR_HCALL] = (this.#byReason[ExitReason.PAPR_HCALL] ?? 0) + Number(count);
    if (stoppedAt) this.lastExit = { reason: ExitReason.PAPR_HCALL, nr: stoppedAt[0]!, args: [...stoppedAt.subarray(1)] };
  }
}

const REASON_NAMES = new Map<number, string>(Object.entries(ExitReason).map(([name, value]) => [value, name]));
const NO_BYTES = new Uint8Array(8);

/** A load's answer: the handler's bytes when they fit the access, zeros otherwise. */
function mmioAnswer(access: MmioExit, answer: Uint8Array | 'stop' | void): NativeAnswer {
  if (answer === 'stop') return STOP;
  if (access.isWrite) return CONTINUE;
  if (answer instanceof Uint8Array) {
    if (answer.length === access.length) return { data: answer };
    throw new RangeError(`The mmio handler's answer to a ${access.length}-byte load at 0x${access.address.toString(16)} has ${answer.length} bytes`);
  }
  if (answer !== undefined) throw invalidArgType('mmio handler result', `a Uint8Array of ${access.length} bytes, 'stop' or undefined`, answer);
  return { data: NO_BYTES };
}

function toRegs(words: BigUint64Array): PpcRegs {
  const regs = Object.fromEntries(SCALAR_REGS.map((name, i) => [name, words[i]!])) as unknown as PpcRegs;
  regs.sprg = [...words.subarray(SPRG_OFFSET, GPR_OFFSET)];
  regs.gpr = [...words.subarray(GPR_OFFSET, REGS_WORDS)];
  return regs;
}

/** The kvm_regs words `update` sets, as [index, value] pairs, every value checked. */
function regUpdates(update: Partial<PpcRegs>): [number, bigint][] {
  const updates: [number, bigint][] = [];
  SCALAR_REGS.forEach((name, i) => {
    if (update[name] !== undefined) updates.push([i, checkBigU64(`regs.${name}`, update[name])]);
  });
  const arrays: [keyof PpcRegs, number, number][] = [['sprg', SPRG_OFFSET, 8], ['gpr', GPR_OFFSET, 32]];
  for (const [name, offset, length] of arrays) {
    const values = update[name];
    if (values === undefined) continue;
    if (!Array.isArray(values) || values.length > length) throw invalidArgType(`regs.${name}`, `an array of up to ${length} bigints`, values);
    values.forEach((value, i) => {
      if (value !== undefined) updates.push([offset + i, checkBigU64(`regs.${name}[${i}]`, value)]);
    });
  }
  return updates;
}

// KVM_REG_SIZE(id) = 1 << ((id >> 52) & 0xf) bytes (include/uapi/linux/kvm.h): the kernel copies that
// many bytes at addr, and the library's buffer holds 8.
const REG_SIZE_SHIFT = 52n;
const REG_SIZE_U64 = 3n;

function unknownRegisterName(): string {
  const names = Object.keys(OneReg);
  if (names.length === 0) return `is not a register name: none are named on ${process.arch} (only ppc64's are); pass a numeric KVM_REG_* id`;
  return `is not a register name known on this architecture (${names.slice(0, 6).join(', ')}, ...)`;
}

function oneRegId(id: unknown): bigint {
  if (typeof id === 'string') {
    const named = Object.hasOwn(OneReg, id) ? OneReg[id] : undefined;
    if (named === undefined) throw invalidArgValue('id', id, unknownRegisterName());
    return named;
  }
  const regId = checkBigU64('id', id);
  if (((regId >> REG_SIZE_SHIFT) & 0xfn) > REG_SIZE_U64) throw outOfRange('id', 'a register of at most 64 bits (KVM_REG_SIZE_U8..U64)', id);
  return regId;
}

/**
 * A vCPU of a VM. It keeps its VM alive.
 *
 * @example
 * const vcpu = vm.createVcpu(0);
 * vcpu.enableCap(Cap.PPC_PAPR);
 * vcpu.setRegs({ pc: 0x10000n, msr: 0x8000000000001001n });
 * const result = await vcpu.run({ hypercall: (call) => (call.nr === 0x6fffn ? 'stop' : { ret: 0n }) });
 */
export class Vcpu extends FdObject {
  /** The VM this vCPU belongs to (kept alive by it). */
  readonly vm: Vm;
  /** The vCPU id given to KVM_CREATE_VCPU. */
  readonly id: number;
  #run: MappedRegion | undefined;
  #running: { stop(): void } | undefined;

  private constructor(token: typeof CONSTRUCTING, fd: number, vm: Vm, id: number, run: MappedRegion) {
    super(token, fd, `vcpu ${id}`);
    this.vm = vm;
    this.id = id;
    this.#run = run;
  }

  /** @internal Used by Vm.createVcpu: maps kvm_run, closing the fd if that fails. */
  static fromOwnedFd(token: typeof CONSTRUCTING, fd: number, vm: Vm, id: number, mmapSize: number): Vcpu {
    requireConstructing(token, 'Vcpu');
    const run = native.mapVcpuRun(fd, mmapSize);
    if (typeof run === 'number') {
      native.closeFd(fd);
      throw syscallError(run, { syscall: 'mmap', request: 'mmap', target: `vcpu ${id}`, args: `kvm_run, ${mmapSize} bytes` });
    }
    return new Vcpu(CONSTRUCTING, fd, vm, id, run);
  }

  /** KVM_ENABLE_CAP on the vCPU, e.g. Cap.PPC_PAPR (required before KVM_RUN on kvm-hv). */
  enableCap(cap: Cap | number, args: EnableCapArgs = []): void {
    enableCapOn(this.fdFor('enableCap'), cap, args, this.target);
  }

  /**
   * KVM_ENABLE_CAP(KVM_CAP_IRQ_XICS) with the in-kernel XICS device and this vCPU's interrupt
   * server number: the kernel then answers H_XIRR, H_CPPR, H_EOI, H_IPI and H_IPOLL itself
   * (arch/powerpc/kvm/book3s_xics.c kvmppc_xics_connect_vcpu).
   */
  connectXics(xics: KvmDevice, server: number): void {
    const fd = this.fdFor('connectXics');
    checkInstance('xics', xics, KvmDevice);
    if (xics.type !== DeviceType.XICS) throw invalidArgValue('xics', xics.type, `must be a DeviceType.XICS device (type ${DeviceType.XICS})`);
    checkInteger('server', server, 0, 0xffff_ffff);
    enableCapOn(fd, Cap.IRQ_XICS, [fdOf(xics, 'connectXics'), server], this.target);
  }

  /** KVM_GET_REGS (ppc64 layout). */
  getRegs(): PpcRegs {
    return toRegs(this.readRegs('getRegs'));
  }

  /** KVM_SET_REGS: the given fields replace the current ones (KVM_GET_REGS first). */
  setRegs(regs: Partial<PpcRegs>): void {
    this.fdFor('setRegs');
    const updates = regUpdates(checkOptions<PpcRegs>('regs', regs));
    const words = this.readRegs('setRegs');
    for (const [index, value] of updates) words[index] = value;
    const result = native.setRegs(this.fdFor('setRegs'), words);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_SET_REGS', target: this.target });
  }

  /** KVM_GET_ONE_REG of a register of at most 64 bits, by id or name ('LPCR_64', 'FPR14'). */
  getOneReg(id: bigint | string): bigint {
    const fd = this.fdFor('getOneReg');
    const regId = oneRegId(id);
    const result = native.getOneReg(fd, regId);
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'KVM_GET_ONE_REG', target: this.target, args: String(id) });
    return result;
  }

  /** KVM_SET_ONE_REG of a register of at most 64 bits. */
  setOneReg(id: bigint | string, value: bigint): void {
    const fd = this.fdFor('setOneReg');
    const regId = oneRegId(id);
    checkBigU64('value', value);
    const result = native.setOneReg(fd, regId, value);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_SET_ONE_REG', target: this.target, args: String(id) });
  }

  /** KVM_GET_STATS_FD: the vCPU's binary statistics by name (e.g. sum_exits, dec_exits). */
  stats(): Record<string, bigint | bigint[]> {
    const result = native.stats(this.fdFor('stats'));
    if (typeof result === 'number') throw syscallError(result, { syscall: 'ioctl', request: 'KVM_GET_STATS_FD', target: this.target });
    return result;
  }

  /** True while run() is in progress. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Runs the vCPU on a dedicated native thread until a handler says stop, stop() is called or the
   * timeout passes. Each exit arrives in `handlers`; the hypercall handler's answer goes back into
   * kvm_run before KVM_RUN is entered again. Rejects with a KvmVfioError when KVM_RUN fails (e.g.
   * EINVAL without Cap.PPC_PAPR), or with whatever a handler threw.
   */
  async run(handlers: RunHandlers = {}, options: RunOptions = {}): Promise<RunResult> {
    const fd = this.fdFor('run');
    checkOptions<RunHandlers>('handlers', handlers);
    const { timeoutMs, fpCanary = false } = checkOptions<RunOptions>('options', options);
    if (timeoutMs !== undefined) checkInteger('options.timeoutMs', timeoutMs, 1, 2 ** 31 - 1);
    checkBoolean('options.fpCanary', fpCanary);
    if (this.#running) throw usageError('ERR_KVM_VCPU_RUNNING', this.target, 'run() is already in progress on this vCPU');
    const tally = new ExitTally(handlers);
    const controls = native.runVcpu(fd, this.#run!.handle, tally.dispatch, fpCanary);
    if (typeof controls === 'number') throw syscallError(controls, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: this.target });
    this.#running = controls;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => controls.stop(), timeoutMs);
    try {
      return this.toResult(await controls.promise, tally);
    } finally {
      if (timer) clearTimeout(timer);
      this.#running = undefined;
    }
  }

  /**
   * The fastest exit path: KVM_RUN on the calling thread, each exit answered by `handlers` on that
   * same thread with no thread switch or event-loop turn (as QEMU's vCPU threads do in C). It
   * blocks its thread until the run ends, so it is for a Worker (one vCPU per Worker) and is
   * refused on the main thread. It ends when a handler says stop, KVM_RUN fails, or another thread
   * calls {@link Vcpu.kick} with the same `options.stopFlag`.
   *
   * @example
   * // in a Worker, with `stopFlag = new Int32Array(new SharedArrayBuffer(4))` shared with the parent
   * const result = vcpu.runSync({ mmio: (access) => device.access(access) }, { stopFlag });
   */
  runSync(handlers: RunSyncHandlers = {}, options: RunSyncOptions = {}): RunResult {
    const fd = this.fdFor('runSync');
    checkOptions<RunSyncHandlers>('handlers', handlers);
    const { registerHypercall } = handlers;
    if (registerHypercall !== undefined && typeof registerHypercall !== 'function') throw invalidArgType('handlers.registerHypercall', 'a function', registerHypercall);
    const { stopFlag } = checkOptions<RunSyncOptions>('options', options);
    if (stopFlag !== undefined) checkStopFlag('options.stopFlag', stopFlag);
    if (isMainThread) throw usageError('ERR_KVM_SYNC_ON_MAIN_THREAD', this.target, 'runSync() blocks its thread until the guest stops: call it in a Worker, or use run() on the main thread');
    if (this.#running) throw usageError('ERR_KVM_VCPU_RUNNING', this.target, 'run() is already in progress on this vCPU');
    const tally = new ExitTally(handlers);
    this.#running = { stop: () => undefined };
    try {
      const registers = registerHypercall ? new BigUint64Array(10) : undefined;
      // The handler itself goes to native code (no wrapper per exit): native counts these calls.
      const record = new ExitRecord(tally.dispatch);
      const result = native.runVcpuSync(fd, this.#run!.handle, record.dispatch, record.words, stopFlag, registers, registerHypercall);
      if (typeof result === 'number') throw syscallError(result, { syscall: 'fcntl', request: 'fcntl', qualifiers: ['F_DUPFD_CLOEXEC'], target: this.target });
      if (registers) tally.addRegisterHypercalls(result.registerHypercalls ?? 0n, result.outcome === 'handler' ? registers : undefined);
      return this.toResult(result, tally);
    } finally {
      this.#running = undefined;
    }
  }

  /**
   * Ends a {@link Vcpu.runSync} watching `stopFlag`, from any thread: sets the flag, sets
   * kvm_run.immediate_exit and signals the run's thread out of KVM_RUN. Returns whether a run
   * was watching the flag (the flag stays set either way: a runSync started later stops at once).
   */
  static kick(stopFlag: Int32Array): boolean {
    checkStopFlag('stopFlag', stopFlag);
    return native.kickVcpu(stopFlag);
  }

  /**
   * KVM_INTERRUPT: raises (KVM_INTERRUPT_SET_LEVEL) or lowers (KVM_INTERRUPT_UNSET) this vCPU's
   * external interrupt line, for an interrupt controller emulated in user space (a pseries guest
   * expects the line to stay raised until it acknowledges the interrupt at the controller).
   * Safe while run() is in progress: the kernel kicks the vCPU.
   */
  setExternalInterrupt(raised: boolean): void {
    const fd = this.fdFor('setExternalInterrupt');
    checkBoolean('raised', raised);
    const lines = native.interruptLines;
    const result = native.interrupt(fd, raised ? lines.setLevel : lines.unset);
    if (result < 0) throw syscallError(result, { syscall: 'ioctl', request: 'KVM_INTERRUPT', target: this.target, args: raised ? 'KVM_INTERRUPT_SET_LEVEL' : 'KVM_INTERRUPT_UNSET' });
  }

  /** Ends a run in progress: the vCPU is kicked out of KVM_RUN (immediate_exit and a signal). */
  stop(): void {
    this.#running?.stop();
  }

  protected override beforeClose(): void {
    this.#running?.stop();
    const run = this.#run;
    this.#run = undefined;
    if (run) native.unmapMapping(run.handle, run.buffer);
  }

  private readRegs(method: string): BigUint64Array {
    const result = native.getRegs(this.fdFor(method));
    if (typeof result === 'number') {
      throw syscallError(result, {
        syscall: 'ioctl',
        request: 'KVM_GET_REGS',
        target: this.target,
        ...(result === -38 ? { hint: 'register access is implemented for ppc64 only' } : {}),
      });
    }
    return result;
  }

  private toResult(result: NativeRunResult, tally: ExitTally): RunResult {
    const { hypercalls, lastExit } = tally;
    if (result.outcome === 'error') {
      const error = syscallError(result.errno, { syscall: 'ioctl', request: 'KVM_RUN', target: this.target, args: `exit reason ${result.exitReason}` });
      throw new KvmVfioError(`${error.message} (kvm_run exit_reason ${result.exitReason}${result.exitReason === ExitReason.INTERNAL_ERROR ? ' = KVM_EXIT_INTERNAL_ERROR' : ''})`, {
        code: error.code, errno: error.errno, syscall: error.syscall, request: error.request, target: error.target, hint: error.hint, source: error.source,
      });
    }
    return {
      outcome: result.outcome === 'handler' ? 'handler' : 'stopped',
      runs: result.runs,
      exits: result.exits,
      hypercalls,
      exitsByReason: tally.byReasonName(),
      fpClobbers: result.fpClobbers,
      fpCanaryIntact: result.fpCanaryIntact,
      lastExit,
    };
  }
}
