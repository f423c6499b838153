// runSync's exit record: one buffer shared with native code (native/vcpu_exit.h ExitRecordLayout).
// Native writes each exit into it and calls `dispatch` with no arguments; the exit object the
// handlers see is built here in JavaScript, where V8 allocates it far faster than N-API can, and
// the answer goes back into the same buffer. No N-API object per exit.
import { native, type NativeAnswer, type NativeExit } from './native.js';
import { ExitReason } from './vcpu.js'; // a cycle, read only when an exit comes: vcpu.ts is loaded by then

const LAYOUT = native.exitRecordLayout;
const HCALL_ARGS = 9;
const STOP = 1;
const CONTINUE = 0;

export class ExitRecord {
  /** What native code reads and writes (an ArrayBuffer of its own: V8 never moves it). */
  readonly words = new BigUint64Array(new ArrayBuffer(LAYOUT.size * 8));
  readonly #small = new Uint32Array(this.words.buffer);
  readonly #bytes = new Uint8Array(this.words.buffer, LAYOUT.bytes * 8, 8);
  /** Native's callback: reads the exit, asks `handle`, writes the answer; 1 stops the run. */
  readonly dispatch: () => number;

  constructor(handle: (exit: NativeExit) => NativeAnswer) {
    this.dispatch = () => this.#answer(handle(this.#exit()));
  }

  #exit(): NativeExit {
    const { words } = this;
    const small = this.#small;
    const reason = small[LAYOUT.reason]!;
    if (reason === ExitReason.PAPR_HCALL) {
      const args: bigint[] = [];
      for (let i = 0; i < HCALL_ARGS; i += 1) args.push(words[LAYOUT.words + i]!);
      return { reason, nr: words[LAYOUT.first]!, args };
    }
    if (reason === ExitReason.MMIO) {
      const length = small[LAYOUT.count]!;
      const isWrite = small[LAYOUT.isWrite] !== 0;
      const exit: NativeExit = { reason, address: words[LAYOUT.first]!, length, isWrite };
      if (isWrite) exit.data = this.#storeData(length);
      return exit;
    }
    if (reason === ExitReason.INTERNAL_ERROR || reason === ExitReason.SYSTEM_EVENT) {
      const data = Array.from(words.subarray(LAYOUT.words, LAYOUT.words + small[LAYOUT.count]!));
      const code = small[LAYOUT.code]!;
      return reason === ExitReason.INTERNAL_ERROR ? { reason, suberror: code, data } : { reason, type: code, data };
    }
    return { reason };
  }

  /** A store's bytes, copied: the handler may keep them past this exit. */
  #storeData(length: number): Uint8Array {
    const data = new Uint8Array(length);
    const bytes = this.#bytes;
    for (let i = 0; i < length; i += 1) data[i] = bytes[i]!;
    return data;
  }

  #answer(answer: NativeAnswer): number {
    if (answer.stop) return STOP;
    const { words } = this;
    if (answer.ret !== undefined) words[LAYOUT.first] = answer.ret;
    if (answer.args) {
      for (let i = 0; i < HCALL_ARGS && i < answer.args.length; i += 1) {
        const value = answer.args[i];
        if (typeof value === 'bigint') words[LAYOUT.words + i] = value;
      }
    }
    if (answer.data) this.#bytes.set(answer.data); // mmioAnswer gives at most 8 bytes
    return CONTINUE;
  }
}
