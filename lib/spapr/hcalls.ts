// PAPR hypercalls: their numbers (Linux arch/powerpc/include/asm/hvcall.h) and a dispatch table
// a VMM fills with the calls it answers in user space.
import { checkBigU64, invalidArgType } from '../validate.js';
import { HcallReturn, type HypercallAnswer } from '../vcpu.js';

/** Hypercall numbers (r3 of `sc 1`). */
export const H = {
  /** Remove a hashed page table entry. */
  H_REMOVE: 0x04n,
  /** Insert a hashed page table entry. */
  H_ENTER: 0x08n,
  /** Read a TCE. */
  H_GET_TCE: 0x1cn,
  /** Write one TCE. */
  H_PUT_TCE: 0x20n,
  /** Set SPRG0. */
  H_SET_SPRG0: 0x24n,
  /** Read the console. */
  H_GET_TERM_CHAR: 0x54n,
  /** Write the console. */
  H_PUT_TERM_CHAR: 0x58n,
  /** Give up the processor until an interrupt. */
  H_CEDE: 0xe0n,
  /** Give cycles to another vCPU. */
  H_CONFER: 0xe4n,
  /** Wake a ceded vCPU. */
  H_PROD: 0xe8n,
  /** XICS: end of interrupt. */
  H_EOI: 0x64n,
  /** XICS: set the current processor priority. */
  H_CPPR: 0x68n,
  /** XICS: send an inter-processor interrupt. */
  H_IPI: 0x6cn,
  /** XICS: poll for a pending interrupt. */
  H_IPOLL: 0x70n,
  /** XICS: accept the pending interrupt. */
  H_XIRR: 0x74n,
  /** Register a virtual processor area. */
  H_REGISTER_VPA: 0xdcn,
  /** Write several TCEs from a list in guest memory. */
  H_PUT_TCE_INDIRECT: 0x124n,
  /** Write one TCE value into a range of entries. */
  H_STUFF_TCE: 0x138n,
  /** Cache-inhibited load (early debug consoles). */
  H_LOGICAL_CI_LOAD: 0x3cn,
  /** Cache-inhibited store. */
  H_LOGICAL_CI_STORE: 0x40n,
  /** A random number. */
  H_RANDOM: 0x300n,
  /** XICS: accept the pending interrupt, with its timebase. */
  H_XIRR_X: 0x2fcn,
  /** Set a processor mode (little-endian interrupts, address translation mode, breakpoints). */
  H_SET_MODE: 0x31cn,
  /** Register the guest's process table (radix and hash v3). */
  H_REGISTER_PROC_TBL: 0x37cn,
  /** The CPU's speculation characteristics and the behaviours the guest should adopt. */
  H_GET_CPU_CHARACTERISTICS: 0x1c8n,
  /** Process-scoped TLB invalidation for radix guests without guest tlbie. */
  H_RPT_INVALIDATE: 0x448n,
  /** Call RTAS (the VMM's RTAS blob issues it). */
  H_RTAS: 0xf000n,
} as const;

/** One hypercall's handler: its arguments (r4..r12) in, its answer out. */
export type HcallHandler = (args: readonly bigint[], nr: bigint) => HypercallAnswer;

/** The run loop's values: a u64 number and up to nine u64 arguments. */
export function checkHcallArgs(nr: unknown, args: unknown): void {
  checkBigU64('nr', nr);
  if (!Array.isArray(args) || args.length > 9) throw invalidArgType('args', 'an array of up to 9 bigints (r4..r12)', args);
  args.forEach((value, i) => checkBigU64(`args[${i}]`, value));
}

const names = new Map<bigint, string>(Object.entries(H).map(([name, nr]) => [nr, name]));

/** The hypercalls a VMM answers, by number, with a count of every call made. */
export class HcallTable {
  readonly #handlers = new Map<bigint, HcallHandler>();
  readonly #counts = new Map<bigint, number>();

  /** Handles `nr` with `handler`; a number has one handler. */
  on(nr: bigint, handler: HcallHandler): this {
    checkBigU64('nr', nr);
    if (typeof handler !== 'function') throw invalidArgType('handler', 'a function', handler);
    if (this.#handlers.has(nr)) throw Object.assign(new Error(`${HcallTable.nameOf(nr)} already has a handler`), { code: 'ERR_HCALL_TAKEN' });
    this.#handlers.set(nr, handler);
    return this;
  }

  /** Answers one call; an unknown one gets H_FUNCTION (and is counted too). */
  dispatch(nr: bigint, args: readonly bigint[]): HypercallAnswer {
    checkHcallArgs(nr, args);
    this.#counts.set(nr, (this.#counts.get(nr) ?? 0) + 1);
    const handler = this.#handlers.get(nr);
    return handler ? handler(args, nr) : { ret: HcallReturn.H_FUNCTION };
  }

  /** Calls made per hypercall number. */
  get counts(): ReadonlyMap<bigint, number> {
    return this.#counts;
  }

  /** 'H_PUT_TERM_CHAR', or the number in hex for one without a name here. */
  static nameOf(nr: bigint): string {
    return names.get(nr) ?? `0x${nr.toString(16)}`;
  }
}
