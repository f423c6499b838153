// The L2 program's encoder against the real assembler: the bytes must be what
// powerpc64le-linux-gnu-as makes of the same instructions (installed by npm run build:ppc64).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DONE, Reg, loopProgram, vectorMarker, vectorOf } from '../dist/examples/l2-program.js';

const AS = 'powerpc64le-linux-gnu-as';
const OBJCOPY = 'powerpc64le-linux-gnu-objcopy';
const hasAssembler = (() => {
  try {
    execFileSync('sh', ['-c', `command -v ${AS} && command -v ${OBJCOPY}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasAssembler) console.warn(`skipped: ${AS} is not installed (npm run build:ppc64 installs the powerpc64le toolchain)`);

const R = Reg;
const source = `
loop:
  mr 3, ${R.HCALL}
  mr 4, ${R.LIOBN}
  mr 5, ${R.IOBA}
  mr 6, ${R.TCE}
  mr 7, ${R.ARG7}
  sc 1
  cmpdi 0, 3, 0
  beq 0, 1f
  addi ${R.FAILED}, ${R.FAILED}, 1
1:
  add ${R.R4_SUM}, ${R.R4_SUM}, 4
  addi ${R.DONE_COUNT}, ${R.DONE_COUNT}, 1
  add ${R.IOBA}, ${R.IOBA}, ${R.IOBA_STEP}
  add ${R.TCE}, ${R.TCE}, ${R.TCE_STEP}
  cmpd 0, ${R.DONE_COUNT}, ${R.ITERATIONS}
  blt 0, loop
done:
  li 3, ${DONE}
  sc 1
  b done
`;

describe('the L2 program', () => {
  it.skipIf(!hasAssembler)('encodes exactly what the powerpc64le assembler makes of it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l2-'));
    try {
      writeFileSync(join(dir, 'l2.s'), `.text\n${source}`);
      execFileSync(AS, ['-mpower9', '-mlittle', '-o', join(dir, 'l2.o'), join(dir, 'l2.s')]);
      execFileSync(OBJCOPY, ['-O', 'binary', '-j', '.text', join(dir, 'l2.o'), join(dir, 'l2.bin')]);
      const bytes = readFileSync(join(dir, 'l2.bin'));
      const words = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readUInt32LE(4 * i));
      expect(loopProgram()).toEqual(words);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks each exception vector with its own hypercall', () => {
    expect(vectorMarker(0x300)).toBe(0x7030n);
    expect(vectorOf(vectorMarker(0x1fe0))).toBe(0x1fe0);
    expect(vectorOf(DONE)).toBeUndefined();
  });
});
