// The hypervisor virtual terminal (vty, "hvterm1"): H_PUT_TERM_CHAR and H_GET_TERM_CHAR carry up to
// 16 bytes in two registers, first byte in the most significant byte of the first (QEMU
// hw/char/spapr_vty.c, Linux arch/powerpc/platforms/pseries/hvconsole.c).
import { HcallReturn, type HypercallAnswer } from '../vcpu.js';
import { invalidArgType } from '../validate.js';
import { H, type HcallTable, checkHcallArgs } from './hcalls.js';

const MAX_BYTES = 16;

/** Options of {@link HvTerminal}. */
export interface HvTerminalOptions {
  /** Where the guest's output goes. */
  write(bytes: Uint8Array): void;
  /** The terminal number the guest passes in r4: the vty node's reg (default 0n). */
  termno?: bigint;
}

function unpack(high: bigint, low: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Number(((i < 8 ? high : low) >> BigInt(56 - (i % 8) * 8)) & 0xffn);
  return bytes;
}

function pack(bytes: Uint8Array): [bigint, bigint] {
  const words = [0n, 0n];
  bytes.forEach((byte, i) => {
    words[i >> 3]! |= BigInt(byte) << BigInt(56 - (i % 8) * 8);
  });
  return [words[0]!, words[1]!];
}

/** One vty: output to a callback, input from a queue. */
export class HvTerminal {
  readonly #write: (bytes: Uint8Array) => void;
  readonly #termno: bigint;
  #pending: number[] = [];

  constructor(options: HvTerminalOptions) {
    if (typeof options?.write !== 'function') throw invalidArgType('options.write', 'a function', options?.write);
    this.#write = options.write;
    this.#termno = options.termno ?? 0n;
  }

  /** Queues bytes for the guest's H_GET_TERM_CHAR. */
  input(bytes: Uint8Array | string): void {
    this.#pending.push(...(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes));
  }

  /** H_PUT_TERM_CHAR(termno, length, bytes 0-7, bytes 8-15). */
  putTermChar(args: readonly bigint[]): HypercallAnswer {
    checkHcallArgs(H.H_PUT_TERM_CHAR, args);
    const [termno, length, high = 0n, low = 0n] = args;
    if (termno !== this.#termno || length === undefined || length > BigInt(MAX_BYTES)) return { ret: HcallReturn.H_PARAMETER };
    if (length > 0n) this.#write(unpack(high, low, Number(length)));
    return { ret: HcallReturn.H_SUCCESS };
  }

  /** H_GET_TERM_CHAR(termno) -> r4 = count, r5/r6 = the bytes. */
  getTermChar(args: readonly bigint[]): HypercallAnswer {
    checkHcallArgs(H.H_GET_TERM_CHAR, args);
    if (args[0] !== this.#termno) return { ret: HcallReturn.H_PARAMETER };
    const bytes = Uint8Array.from(this.#pending.splice(0, MAX_BYTES));
    const [high, low] = pack(bytes);
    return { ret: HcallReturn.H_SUCCESS, args: [BigInt(bytes.length), high, low] };
  }

  /** Installs both hypercalls in `table`. */
  register(table: HcallTable): void {
    table.on(H.H_PUT_TERM_CHAR, (args) => this.putTermChar(args)).on(H.H_GET_TERM_CHAR, (args) => this.getTermChar(args));
  }
}
