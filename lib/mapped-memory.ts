// A mapping shared with JavaScript as an ArrayBuffer whose address stays in C++ (native/mapping.h):
// the base of GuestMemory (anonymous guest RAM) and RegionMapping (an mmap of a VFIO device's BAR).
// Calls that hand the mapping to the kernel (memslots, registrations, DMA maps) take the object
// itself; each such use is recorded and undone before the mapping goes away.
import { constants as bufferConstants } from 'node:buffer';
import { usageError } from './errors.js';
import { native, type MappedRegion, type MappingHandle } from './native.js';
import { invalidArgType } from './validate.js';

/** Something that uses the memory (a registration, a memslot) and is undone before it is unmapped. */
export interface MemoryUser {
  /** What it is, for messages, e.g. 'registered with vfio container'. */
  readonly description: string;
  /** Undoes the use; called by close(). Must not throw. */
  release(): void;
}

/** The largest mapping JavaScript can see as one ArrayBuffer (buffer.constants.MAX_LENGTH: 4 GiB on Node 18/20). */
export const MAX_MAPPING = BigInt(bufferConstants.MAX_LENGTH);

/** A mapping readable and writable through `buffer`, closed once by close(). */
export abstract class MappedMemory implements Disposable {
  /** Size in bytes. */
  readonly size: bigint;
  #region: MappedRegion | undefined;
  readonly #users = new Set<MemoryUser>();
  readonly #what: string;

  /** @internal */
  protected constructor(region: MappedRegion, size: bigint, what: string) {
    this.#region = region;
    this.size = size;
    this.#what = what;
  }

  /** The memory as an ArrayBuffer (detached, length 0, once closed). */
  get buffer(): ArrayBuffer {
    return this.#regionFor('buffer').buffer;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#region === undefined;
  }

  /** @internal The native handle, for calls that give this memory to the kernel. */
  handleFor(method: string): MappingHandle {
    return this.#regionFor(method).handle;
  }

  /** @internal Records a use that close() must undo first. */
  addUser(user: MemoryUser): void {
    this.#regionFor('addUser');
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

  #regionFor(method: string): MappedRegion {
    if (this.#region === undefined) throw usageError('ERR_KVM_CLOSED', this.#what, `${method} was used after close(); the memory is unmapped`);
    return this.#region;
  }
}

/** Checks that `value` is a GuestMemory or a RegionMapping. */
export function checkMappedMemory(name: string, value: unknown): MappedMemory {
  if (!(value instanceof MappedMemory)) throw invalidArgType(name, 'an instance of GuestMemory or RegionMapping', value);
  return value;
}
