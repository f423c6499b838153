// RTAS (Run-Time Abstraction Services): the guest calls H_RTAS with r4 = the guest-physical
// address of struct rtas_args { be32 token, nargs, nret; be32 args[nargs]; be32 rets[nret] },
// big-endian even for a little-endian kernel (RTAS runs with MSR_LE clear: Linux
// arch/powerpc/kernel/rtas.c enter_rtas). QEMU: hw/ppc/spapr_rtas.c.
import { HcallReturn, type HypercallAnswer } from '../vcpu.js';
import { checkBigU64, checkString, checkU32, invalidArgType } from '../validate.js';
import type { FdtWriter } from './fdt.js';

/** One RTAS call: its input words in, its output words out (rets[0] is the status). */
export type RtasHandler = (args: readonly number[], nret: number) => number[];

/** RTAS status words. */
export const RtasStatus = {
  /** Success. */
  SUCCESS: 0,
  /** A hardware error. */
  HARDWARE_ERROR: -1,
  /** A bad parameter, or a call this firmware does not implement. */
  PARAMETER_ERROR: -3,
} as const;

const FIRST_TOKEN = 0x2000;

function taken(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_RTAS_TAKEN' });
}
const HEADER_WORDS = 3;
/** What a guest may ask for at most: 16 args and returns (PAPR's limit is lower). */
const MAX_WORDS = 16;

/** The RTAS calls of one machine, by name and token. */
export class Rtas {
  readonly #ram: DataView;
  readonly #tokens = new Map<string, number>();
  readonly #handlers = new Map<number, { name: string; handler: RtasHandler | undefined }>();
  readonly #counts = new Map<string, number>();
  #nextToken = FIRST_TOKEN;

  /** `ram` is guest memory from guest-physical address 0. */
  constructor(ram: DataView) {
    if (!(ram instanceof DataView)) throw invalidArgType('ram', 'a DataView over guest memory', ram);
    this.#ram = ram;
  }

  /** Gives `name` the next free token and answers it with `handler`; returns the token. */
  define(name: string, handler: RtasHandler): number {
    if (typeof handler !== 'function') throw invalidArgType('handler', 'a function', handler);
    const token = this.#nextToken++;
    this.#add(name, token, handler);
    return token;
  }

  /**
   * Lists `name` with `token` in the device tree without a handler here: the kernel answers it
   * (vm.defineRtasToken). If the call reaches user space anyway, it fails with -3.
   */
  defineToken(name: string, token: number): void {
    this.#add(name, token, undefined);
  }

  #add(name: string, token: number, handler: RtasHandler | undefined): void {
    checkString('name', name);
    checkU32('token', token);
    if (this.#tokens.has(name)) throw taken(`RTAS call ${name} is already defined`);
    if (this.#handlers.has(token)) throw taken(`RTAS token 0x${token.toString(16)} is already in use`);
    this.#tokens.set(name, token);
    this.#handlers.set(token, { name, handler });
  }

  /** Token by name. */
  get tokens(): ReadonlyMap<string, number> {
    return this.#tokens;
  }

  /** Calls made, by name ('unknown' for a token nobody defined). */
  get counts(): ReadonlyMap<string, number> {
    return this.#counts;
  }

  /** Answers H_RTAS: runs the call whose token the guest's rtas_args names and writes its returns. */
  handle(argsAddress: bigint): HypercallAnswer {
    checkBigU64('argsAddress', argsAddress);
    const at = Number(argsAddress);
    if (argsAddress > BigInt(this.#ram.byteLength) || at + HEADER_WORDS * 4 > this.#ram.byteLength) return { ret: HcallReturn.H_PARAMETER };
    const [token, nargs, nret] = [0, 1, 2].map((i) => this.#ram.getUint32(at + i * 4)) as [number, number, number];
    if (nargs > MAX_WORDS || nret > MAX_WORDS || at + (HEADER_WORDS + nargs + nret) * 4 > this.#ram.byteLength) return { ret: HcallReturn.H_PARAMETER };
    const args = Array.from({ length: nargs }, (_, i) => this.#ram.getUint32(at + (HEADER_WORDS + i) * 4));
    const entry = this.#handlers.get(token);
    const name = entry?.name ?? 'unknown';
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + 1);
    const rets = entry?.handler ? entry.handler(args, nret) : [RtasStatus.PARAMETER_ERROR];
    rets.slice(0, nret).forEach((value, i) => this.#ram.setInt32(at + (HEADER_WORDS + nargs + i) * 4, value | 0));
    return { ret: HcallReturn.H_SUCCESS };
  }

  /**
   * The RTAS entry the guest branches to (linux,rtas-entry), big-endian: mr r4,r3; li r3,0;
   * ori r3,r3,0xf000 (H_RTAS); sc 1; blr.
   */
  static blob(): Uint8Array {
    const words = [0x7c641b78, 0x38600000, 0x6063f000, 0x44000022, 0x4e800020];
    const blob = new DataView(new ArrayBuffer(words.length * 4));
    words.forEach((word, i) => blob.setUint32(i * 4, word));
    return new Uint8Array(blob.buffer);
  }
}

/** Options of {@link standardRtasCalls}. */
export interface StandardRtasOptions {
  /** power-off (and ibm,os-term after a panic). */
  powerOff(): void;
  /** system-reboot; default: power off. */
  reboot?(): void;
  /** The guest's clock; default: the host's. */
  now?(): Date;
  /** display-character (offered only when given: Linux's boot progress calls it once per step). */
  display?(character: number): void;
}

const unsupported: RtasHandler = () => [RtasStatus.PARAMETER_ERROR];

/** The RTAS calls every pseries guest expects, answered as QEMU's spapr_rtas.c does. */
export function standardRtasCalls(options: StandardRtasOptions): Record<string, RtasHandler> {
  const now = options.now ?? (() => new Date());
  return {
    'power-off': () => (options.powerOff(), [RtasStatus.SUCCESS]),
    'system-reboot': () => ((options.reboot ?? options.powerOff)(), [RtasStatus.SUCCESS]),
    'ibm,os-term': () => (options.powerOff(), [RtasStatus.SUCCESS]),
    'get-time-of-day': () => {
      const date = now();
      return [RtasStatus.SUCCESS, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds() * 1_000_000];
    },
    'set-time-of-day': () => [RtasStatus.SUCCESS],
    'event-scan': () => [1], // no event
    'check-exception': () => [1], // no error
    ...(options.display ? { 'display-character': (args: readonly number[]) => (options.display!(args[0]! & 0xff), [RtasStatus.SUCCESS]) } : {}),
    'ibm,get-system-parameter': unsupported,
    'ibm,set-system-parameter': unsupported,
    'set-indicator': unsupported,
    'get-sensor-state': unsupported,
  };
}

/** Writes the /rtas node's RTAS properties: where the blob sits and one property per token. */
export function rtasNode(writer: FdtWriter, rtas: Rtas, base: bigint, size: bigint = 0x1000n): void {
  // One cell each: Linux reads them as u32 (arch/powerpc/kernel/rtas.c early_init_dt_scan_rtas).
  writer.u32('rtas-size', Number(size)).u32('linux,rtas-base', Number(base)).u32('linux,rtas-entry', Number(base));
  for (const [name, token] of rtas.tokens) writer.u32(name, token);
}
