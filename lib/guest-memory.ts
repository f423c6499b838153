// Guest memory: an anonymous mapping the library allocates, readable and writable from JS as an
// ArrayBuffer. Its address never reaches JavaScript; calls that hand it to the kernel (memory
// registration, DMA maps, KVM memslots) take the GuestMemory itself.
import { syscallError } from './errors.js';
import { MAX_MAPPING, MappedMemory } from './mapped-memory.js';
import { native, type MappedRegion } from './native.js';
import { checkBigU64, invalidArgType, outOfRange } from './validate.js';

export { MAX_MAPPING, type MemoryUser } from './mapped-memory.js';

/** The system page size (64 KiB on most ppc64 kernels, 4 KiB on x86). */
export function pageSize(): number {
  return native.pageSize();
}

/**
 * Guest RAM: a private anonymous mapping of `size` bytes (a multiple of the page size), zero-filled
 * and backed lazily.
 *
 * @example
 * using memory = GuestMemory.allocate(64n << 20n);
 * new Uint8Array(memory.buffer).set(program, 0x10000);
 */
export class GuestMemory extends MappedMemory {
  private constructor(region: MappedRegion, size: bigint) {
    super(region, size, 'guest memory');
  }

  /** mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE) of `size` bytes. */
  static allocate(size: bigint): GuestMemory {
    const bytes = checkBigU64('size', size, 1n);
    const page = BigInt(pageSize());
    if (bytes % page !== 0n) throw outOfRange('size', `a multiple of the page size (${page})`, size);
    if (bytes > MAX_MAPPING) throw outOfRange('size', `<= ${MAX_MAPPING}n (the largest ArrayBuffer this Node makes)`, size);
    const region = native.mapAnonymous(bytes);
    if (typeof region === 'number') {
      throw syscallError(region, { syscall: 'mmap', request: 'mmap', qualifiers: ['guest memory'], target: 'guest memory', args: `${bytes} bytes` });
    }
    return new GuestMemory(region, bytes);
  }
}

/** Checks that `value` is a live GuestMemory. */
export function checkMemory(name: string, value: unknown): GuestMemory {
  if (!(value instanceof GuestMemory)) throw invalidArgType(name, 'an instance of GuestMemory', value);
  return value;
}
