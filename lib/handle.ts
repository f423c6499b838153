// Fd ownership: every kernel object is an FdObject that owns exactly one fd. close() and
// [Symbol.dispose]() are idempotent; a closed object refuses every call without a syscall.
// An object dropped without close() has its fd closed by a finalizer, as a last resort.
import { closedError, type Target } from './errors.js';
import { native } from './native.js';

/** Passed by the library to its own constructors; objects are made by open()/create*() only. */
export const CONSTRUCTING: unique symbol = Symbol('kvm-vfio-spapr constructing');

/**
 * Throws unless `token` is CONSTRUCTING: the constructors and internal factories (fromOwnedFd...)
 * are reachable from JavaScript, and an object forged over an fd number would own an fd another
 * object owns, or one the library never opened.
 */
export function requireConstructing(token: unknown, name: string): void {
  if (token === CONSTRUCTING) return;
  const error = new TypeError(`${name} objects are created by the library's open/create functions`);
  Object.defineProperty(error, 'code', { value: 'ERR_ILLEGAL_CONSTRUCTOR', enumerable: true, writable: true, configurable: true });
  throw error;
}

interface LeakRecord {
  readonly fd: number;
  readonly target: Target;
  readonly kind: string;
}

const leakStats = { closedByFinalizer: 0 };
const warnedKinds = new Set<string>();

function closeLeaked(record: LeakRecord): void {
  native.closeFd(record.fd);
  leakStats.closedByFinalizer += 1;
  if (warnedKinds.has(record.kind)) return;
  warnedKinds.add(record.kind);
  process.emitWarning(
    `${record.target} (fd ${record.fd}) was garbage-collected without close(); its fd was closed by the finalizer. ` +
      'Call close() or use `using` so fds are released when you decide (further ones are counted in resourceStats()).',
    { code: 'KVM_VFIO_SPAPR_UNCLOSED', type: 'Warning' },
  );
}

const leakRegistry = new FinalizationRegistry<LeakRecord>(closeLeaked);

let readFd: (object: FdObject, method: string) => number;

/** The base of every object that owns an fd. */
export abstract class FdObject implements Disposable, AsyncDisposable {
  #fd: number;
  #operationsInFlight = 0;
  #closeWhenIdle = -1;
  /** What error messages call this object, e.g. 'vm', 'vfio group 2'. */
  readonly target: Target;

  static {
    // Its own load site, apart from fdFor's: fdFor reads #fd of every kind of object (its inline
    // cache goes megamorphic in any real VMM), while payload fds come from a few kinds (groups,
    // tables, containers), so this site stays polymorphic and cheap.
    readFd = (object, method) => {
      const fd = object.#fd;
      if (fd < 0) throw closedError(object.target, method);
      return fd;
    };
  }

  /** @internal Only the library's open()/create*() functions construct objects. */
  protected constructor(token: typeof CONSTRUCTING, fd: number, target: Target) {
    requireConstructing(token, new.target.name);
    this.#fd = fd;
    this.target = target;
    leakRegistry.register(this, { fd, target, kind: new.target.name }, this);
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The fd for a call; throws ERR_KVM_CLOSED when closed, before any syscall. */
  protected fdFor(method: string): number {
    const fd = this.#fd;
    if (fd < 0) throw closedError(this.target, method);
    return fd;
  }

  /** Runs an operation that uses the fd after this call returns (async work): close() waits for it. */
  protected async whileOpen<T>(method: string, operation: (fd: number) => Promise<T>): Promise<T> {
    const fd = this.fdFor(method);
    this.#operationsInFlight += 1;
    try {
      return await operation(fd);
    } finally {
      this.#operationsInFlight -= 1;
      if (this.#operationsInFlight === 0 && this.#closeWhenIdle >= 0) {
        native.closeFd(this.#closeWhenIdle);
        this.#closeWhenIdle = -1;
      }
    }
  }

  /** Called once by close() before the fd is released: subclasses unmap or unlink here. */
  protected beforeClose(): void {}

  /**
   * Closes the fd. Idempotent, never throws. Objects created from this one (children) keep their
   * own fds and stay usable: the kernel keeps the objects they depend on alive.
   */
  close(): void {
    const fd = this.#takeFd();
    if (fd >= 0) native.closeFd(fd);
  }

  /**
   * close() with the close(2) itself on the libuv thread pool, for objects whose release waits in
   * the kernel: closing a KVM device with a release op (the KVM-VFIO device) waits for an RCU grace
   * period (virt/kvm/kvm_main.c kvm_device_release), and the last close of a VM destroys it. The
   * object counts as closed from the call on; the promise settles once the kernel has released
   * the fd. Idempotent, never rejects.
   *
   * @example
   * await vm.vfioDevice?.closeAsync(); // no event-loop stall for the grace period
   */
  async closeAsync(): Promise<void> {
    const fd = this.#takeFd();
    if (fd >= 0) await native.closeFdAsync(fd);
  }

  /** The fd to close now (-1 if closed already or left to in-flight async work), marking this object closed. */
  #takeFd(): number {
    const fd = this.#fd;
    if (fd < 0) return -1;
    this.#fd = -1;
    leakRegistry.unregister(this);
    this.beforeClose();
    if (this.#operationsInFlight === 0) return fd;
    this.#closeWhenIdle = fd;
    return -1;
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Same as closeAsync(), for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAsync();
  }
}

/** The fd of another library object, for calls that pass it to the kernel as a payload. */
export function fdOf(object: FdObject, method: string): number {
  return readFd(object, method);
}

/**
 * How many fds the library owns now, and how many leaked objects the finalizer closed.
 *
 * @example
 * const before = resourceStats().ownedFds;
 * runOneGuest();
 * assert.equal(resourceStats().ownedFds, before); // every fd was closed
 */
export function resourceStats(): {
  /** Fds the library owns and has not closed yet. */
  ownedFds: number;
  /** Objects garbage-collected without close() whose fd the finalizer closed. */
  closedByFinalizer: number;
  /**
   * Mappings the library made and has not unmapped yet (guest memory, TCE tables, kvm_run, BARs),
   * in the whole process: every thread and worker.
   */
  mappings: number;
} {
  return { ownedFds: native.ownedFdCount(), closedByFinalizer: leakStats.closedByFinalizer, mappings: native.liveMappingCount() };
}
