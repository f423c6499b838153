// A tiny L2 guest for the TCE acceleration proof: little-endian, real mode (MSR IR=DR=0), built by
// a small encoder of the few Power ISA instructions it needs (no assembler at run time; the host
// test suite checks these bytes against powerpc64le-linux-gnu-as).
//
// The program loops on `sc 1` (a hypercall) N times with the same hypercall and LIOBN, advancing
// the IO bus address and the TCE each time, counts iterations and non-zero returns in registers,
// then makes the marker hypercall DONE forever. Marker stubs at every exception vector turn a stray
// interrupt into a distinct hypercall (vectorMarker) instead of a silent hang.

/** Guest-physical address of the loop. */
export const ENTRY = 0x10000n;
/** The hypercall the program makes when it has finished: r3 = DONE. */
export const DONE = 0x6fffn;
/** MSR for little-endian real mode: SF (64-bit) | ME | LE. */
export const MSR_LE_REAL_MODE = 0x8000000000001001n;
/** LPCR_ILE: take interrupts in little-endian (OR it into the vCPU's LPCR_64). */
export const LPCR_ILE = 0x2000000n;

/** Inputs and outputs of the loop, by register number. */
export const Reg = {
  /** in: how many hypercalls to make */
  ITERATIONS: 14,
  /** in: the hypercall number (H_PUT_TCE 0x20, H_GET_TCE 0x1c, H_STUFF_TCE 0x138) */
  HCALL: 15,
  /** in: the LIOBN (r4 of the hypercall) */
  LIOBN: 16,
  /** in/out: the IO bus address (r5), advanced by IOBA_STEP after each call */
  IOBA: 17,
  IOBA_STEP: 18,
  /** in/out: the TCE (r6), advanced by TCE_STEP after each call */
  TCE: 19,
  TCE_STEP: 20,
  /** in: r7 of the hypercall (npages for H_STUFF_TCE) */
  ARG7: 21,
  /** out: hypercalls made */
  DONE_COUNT: 22,
  /** out: hypercalls that returned non-zero (not H_SUCCESS) */
  FAILED: 23,
  /** out: sum of r4 after each call (what H_GET_TCE returned) */
  R4_SUM: 24,
} as const;

// Power ISA encodings (Book I). rt/ra/rb are register numbers.
const dForm = (opcode: number, rt: number, ra: number, immediate: number) => ((opcode << 26) | (rt << 21) | (ra << 16) | (immediate & 0xffff)) >>> 0;
const xForm = (rs: number, ra: number, rb: number, extended: number) => ((31 << 26) | (rs << 21) | (ra << 16) | (rb << 11) | (extended << 1)) >>> 0;

/** addi rt, ra, si (li rt, si when ra = 0) */
export const addi = (rt: number, ra: number, si: number) => dForm(14, rt, ra, si);
export const li = (rt: number, si: number) => addi(rt, 0, si);
/** or ra, rs, rb — mr ra, rs is or ra, rs, rs */
export const mr = (ra: number, rs: number) => xForm(rs, ra, rs, 444);
/** add rt, ra, rb */
export const add = (rt: number, ra: number, rb: number) => xForm(rt, ra, rb, 266);
/** cmpdi cr0, ra, si (64-bit compare, L = 1) */
export const cmpdi = (ra: number, si: number) => ((11 << 26) | (1 << 21) | (ra << 16) | (si & 0xffff)) >>> 0;
/** cmpd cr0, ra, rb */
export const cmpd = (ra: number, rb: number) => ((31 << 26) | (1 << 21) | (ra << 16) | (rb << 11)) >>> 0;
/** sc 1: a hypercall (LEV = 1) */
export const sc1 = () => 0x44000022;
/** bc bo, bi, displacement (relative, in bytes) */
const bc = (bo: number, bi: number, displacement: number) => ((16 << 26) | (bo << 21) | (bi << 16) | (displacement & 0xfffc)) >>> 0;
/** beq cr0, displacement */
export const beq = (displacement: number) => bc(12, 2, displacement);
/** blt cr0, displacement */
export const blt = (displacement: number) => bc(12, 0, displacement);
/** b displacement (relative, in bytes) */
export const b = (displacement: number) => ((18 << 26) | (displacement & 0x3fffffc)) >>> 0;

/** The marker hypercall number a stray interrupt at `vector` makes: 0x7000 | vector >> 4. */
export function vectorMarker(vector: number): bigint {
  return BigInt(0x7000 | (vector >> 4));
}

/** The exception vector a marker hypercall came from, or undefined if it is not one. */
export function vectorOf(hcall: bigint): number | undefined {
  return hcall >= 0x7000n && hcall <= 0x71ffn ? Number(hcall & 0xfffn) << 4 : undefined;
}

/** The hypercall loop, as instruction words. */
export function loopProgram(): number[] {
  const R = Reg;
  const loop = [
    mr(3, R.HCALL),
    mr(4, R.LIOBN),
    mr(5, R.IOBA),
    mr(6, R.TCE),
    mr(7, R.ARG7),
    sc1(),
    cmpdi(3, 0),
    beq(8), // H_SUCCESS: skip the failure count
    addi(R.FAILED, R.FAILED, 1),
    add(R.R4_SUM, R.R4_SUM, 4),
    addi(R.DONE_COUNT, R.DONE_COUNT, 1),
    add(R.IOBA, R.IOBA, R.IOBA_STEP),
    add(R.TCE, R.TCE, R.TCE_STEP),
    cmpd(R.DONE_COUNT, R.ITERATIONS),
  ];
  loop.push(blt(-4 * loop.length)); // back to the first instruction
  return [...loop, li(3, Number(DONE)), sc1(), b(-8)];
}

function writeWords(memory: DataView, address: number, words: readonly number[]): void {
  words.forEach((word, i) => memory.setUint32(address + 4 * i, word, true));
}

/**
 * Writes the program at ENTRY and a marker stub (li r3, marker; sc 1) every 0x20 bytes from 0x100
 * to 0x1fe0 into guest memory (guest-physical address 0 at offset 0).
 */
export function loadProgram(memory: ArrayBuffer): void {
  const view = new DataView(memory);
  for (let vector = 0x100; vector <= 0x1fe0; vector += 0x20) writeWords(view, vector, [li(3, Number(vectorMarker(vector))), sc1()]);
  writeWords(view, Number(ENTRY), loopProgram());
}

/** Register values (gpr index → value) that start the loop. */
export interface LoopInputs {
  hcall: bigint;
  liobn: bigint;
  iterations: number;
  ioba?: bigint;
  iobaStep?: bigint;
  tce?: bigint;
  tceStep?: bigint;
  arg7?: bigint;
}

/** The 32 GPRs for a run of the loop with these inputs; counters start at 0. */
export function loopRegisters(inputs: LoopInputs): bigint[] {
  const gpr = new Array<bigint>(32).fill(0n);
  gpr[Reg.ITERATIONS] = BigInt(inputs.iterations);
  gpr[Reg.HCALL] = inputs.hcall;
  gpr[Reg.LIOBN] = inputs.liobn;
  gpr[Reg.IOBA] = inputs.ioba ?? 0n;
  gpr[Reg.IOBA_STEP] = inputs.iobaStep ?? 0x1000n;
  gpr[Reg.TCE] = inputs.tce ?? 0n;
  gpr[Reg.TCE_STEP] = inputs.tceStep ?? 0x1000n;
  gpr[Reg.ARG7] = inputs.arg7 ?? 1n;
  return gpr;
}

/** stw rs, d(ra) */
export const stw = (rs: number, ra: number, d: number) => dForm(36, rs, ra, d);
/** lwz rt, d(ra) */
export const lwz = (rt: number, ra: number, d: number) => dForm(32, rt, ra, d);

/**
 * An MMIO probe at ENTRY: stores r6 to the word at r5, loads that word into r7, then makes the
 * DONE hypercall. With r5 outside every memory slot, the store and the load exit as KVM_EXIT_MMIO
 * (or the store signals an ioeventfd and only the load exits).
 */
export function loadMmioProgram(memory: ArrayBuffer): void {
  const view = new DataView(memory);
  for (let vector = 0x100; vector <= 0x1fe0; vector += 0x20) writeWords(view, vector, [li(3, Number(vectorMarker(vector))), sc1()]);
  writeWords(view, Number(ENTRY), [stw(6, 5, 0), lwz(7, 5, 0), li(3, Number(DONE)), sc1(), b(-8)]);
}
