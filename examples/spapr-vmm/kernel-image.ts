// The guest kernel: a 64-bit POWER ELF (Debian ships /boot/vmlinux-*), loaded by physical address.
// No Open Firmware runs first, so the image is entered at its physical entry point.

/** One PT_LOAD segment: file bytes copied to `address`, zero-filled up to `memorySize`. */
export interface KernelSegment {
  /** Guest-physical load address (p_paddr). */
  address: bigint;
  /** The bytes the file holds (p_filesz of them). */
  bytes: Uint8Array;
  /** The segment's size in memory (p_memsz, at least bytes.length). */
  memorySize: bigint;
}

/** A kernel image ready to load. */
export interface KernelImage {
  /** Guest-physical entry point. */
  entry: bigint;
  /** Little-endian (ppc64le) or big-endian. */
  littleEndian: boolean;
  segments: KernelSegment[];
  /** The first byte after the highest segment (its bss included). */
  end: bigint;
}

/** A file that is not a kernel image this VMM can boot. */
export class KernelImageError extends Error {
  override name = 'KernelImageError';
}

const EM_PPC64 = 21;
const ET_EXEC = 2;
const PT_LOAD = 1;
const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;

/** Parses a ppc64 ELF (vmlinux) or throws a KernelImageError saying what is wrong with it. */
export function parseKernelImage(file: Uint8Array, name = 'the kernel'): KernelImage {
  const fail = (why: string): never => {
    throw new KernelImageError(`${name} is not a bootable POWER kernel image: ${why}`);
  };
  if (file.length < ELF_HEADER_SIZE || file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    fail('no ELF header (a vmlinux is needed, not a compressed zImage or a bzImage)');
  }
  if (file[4] !== 2) fail('a 32-bit ELF (a 64-bit vmlinux is needed)');
  const littleEndian = file[5] === 1;
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (view.getUint16(18, littleEndian) !== EM_PPC64) fail(`ELF machine ${view.getUint16(18, littleEndian)}, not PowerPC64 (${EM_PPC64})`);
  if (view.getUint16(16, littleEndian) !== ET_EXEC) fail('not an executable ELF');
  const entryVirtual = view.getBigUint64(24, littleEndian);
  const headersAt = Number(view.getBigUint64(32, littleEndian));
  const count = view.getUint16(56, littleEndian);
  const segments: (KernelSegment & { virtual: bigint })[] = [];
  for (let i = 0; i < count; i++) {
    const at = headersAt + i * PROGRAM_HEADER_SIZE;
    if (at + PROGRAM_HEADER_SIZE > file.length) fail('truncated program headers');
    if (view.getUint32(at, littleEndian) !== PT_LOAD) continue;
    const offset = Number(view.getBigUint64(at + 8, littleEndian));
    const fileSize = Number(view.getBigUint64(at + 32, littleEndian));
    if (offset + fileSize > file.length) fail(`segment ${i} runs past the end of the file (truncated?)`);
    segments.push({
      virtual: view.getBigUint64(at + 16, littleEndian),
      address: view.getBigUint64(at + 24, littleEndian),
      bytes: file.subarray(offset, offset + fileSize),
      memorySize: view.getBigUint64(at + 40, littleEndian),
    });
  }
  if (segments.length === 0) fail('no loadable segment');
  const home = segments.find((s) => entryVirtual >= s.virtual && entryVirtual < s.virtual + s.memorySize) ?? fail('the entry point lies in no segment');
  const end = segments.reduce((top, s) => (s.address + s.memorySize > top ? s.address + s.memorySize : top), 0n);
  return { entry: entryVirtual - home.virtual + home.address, littleEndian, segments: segments.map(({ virtual: _, ...segment }) => segment), end };
}
