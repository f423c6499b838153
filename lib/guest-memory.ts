// Guest memory: an anonymous mapping the library allocates, readable and writable from JS as an
// ArrayBuffer. Its address never reaches JavaScript; calls that hand it to the kernel (memory
// registration, DMA maps, KVM memslots) take the GuestMemory itself.
import { constants as bufferConstants } from 'node:buffer';
import { syscallError, usageError } from './errors.js';
import { native, type MappedRegion, type MappingHandle } from './native.js';
import { checkBigU64, invalidArgType, outOfRange } from './validate.js';

/** Something that uses the memory (a registration, a memslot) and is undone before it is unmapped. */
export interface MemoryUser {
  /** What it is, for messages, e.g. 'registered with vfio container'. */
  readonly description: string;
  /** Undoes the use; called by GuestMemory.close(). Must not throw. */
  release(): void;
}

/** The largest mapping JavaScript can see as one ArrayBuffer (buffer.constants.MAX_LENGTH: 4 GiB on Node 18/20). */
export const MAX_MAPPING = BigInt(bufferConstants.MAX_LENGTH);

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
export class GuestMemory implements Disposable {
  /** Size in bytes. */
  readonly size: bigint;
  #region: MappedRegion | undefined;
  readonly #users = new Set<MemoryUser>();

  private constructor(region: MappedRegion, size: bigint) {
    this.#region = region;
    this.size = size;
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

  /** The memory as an ArrayBuffer (detached, length 0, once closed). */
  get buffer(): ArrayBuffer {
    return this.regionFor('buffer').buffer;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#region === undefined;
  }

  /** @internal The native handle, for calls that give this memory to the kernel. */
  handleFor(method: string): MappingHandle {
    return this.regionFor(method).handle;
  }

  /** @internal Records a use that close() must undo first. */
  addUser(user: MemoryUser): void {
    this.regionFor('addUser');
    this.#users.add(user);
  }

  /** @internal */
  removeUser(user: MemoryUser): void {
    this.#users.delete(user);
  }

  /** What currently uses this memory (registrations, memslots). */
  get users(): readonly string[] {
    return [...this.#users].map((user) => user.description);
  }

  /**
   * Undoes every registration and memslot that uses this memory, detaches the ArrayBuffer (views
   * read as empty afterwards) and unmaps it. Idempotent.
   */
  close(): void {
    const region = this.#region;
    if (region === undefined) return;
    for (const user of [...this.#users]) user.release();
    this.#users.clear();
    this.#region = undefined;
    native.unmapMapping(region.handle, region.buffer);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  private regionFor(method: string): MappedRegion {
    if (this.#region === undefined) throw usageError('ERR_KVM_CLOSED', 'guest memory', `${method} was used after close(); the memory is unmapped`);
    return this.#region;
  }
}

/** Checks that `value` is a live GuestMemory. */
export function checkMemory(name: string, value: unknown): GuestMemory {
  if (!(value instanceof GuestMemory)) throw invalidArgType(name, 'an instance of GuestMemory', value);
  return value;
}
