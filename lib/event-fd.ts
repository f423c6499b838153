// An eventfd (eventfd(2)): the doorbell KVM_IRQFD, KVM_IOEVENTFD and VFIO_DEVICE_SET_IRQS share.
// Always EFD_CLOEXEC | EFD_NONBLOCK: reading never blocks the event loop.
import { syscallError, usageError } from './errors.js';
import { CONSTRUCTING, FdObject } from './handle.js';
import { native, type EventFdWatchHandle } from './native.js';
import { checkBigU64, checkBoolean, checkInteger, checkOptions, invalidArgType } from './validate.js';

const EAGAIN = -11;
const MAX_COUNT = 0xffff_ffff_ffff_fffen;

/** Options of {@link EventFd.create}. */
export interface EventFdOptions {
  /** The counter's starting value (default 0). */
  initial?: number;
  /** EFD_SEMAPHORE: each read takes 1 instead of the whole count. */
  semaphore?: boolean;
}

/**
 * An eventfd owned by the library. Pass it to {@link Vm.irqfd}, {@link Vm.ioeventfd} or a VFIO
 * device's interrupts; read it without blocking, or watch it on the event loop.
 *
 * @example
 * using doorbell = EventFd.create();
 * vm.ioeventfd({ eventFd: doorbell, address: 0x2000_0000n, length: 4 });
 * doorbell.watch((count) => console.log(`guest rang ${count} times`));
 */
export class EventFd extends FdObject {
  #watch: EventFdWatchHandle | undefined;

  private constructor(token: typeof CONSTRUCTING, fd: number) {
    super(token, fd, 'eventfd');
  }

  /** eventfd(initial, EFD_CLOEXEC | EFD_NONBLOCK [| EFD_SEMAPHORE]). */
  static create(options: EventFdOptions = {}): EventFd {
    const { initial = 0, semaphore = false } = checkOptions<EventFdOptions>('options', options);
    checkInteger('options.initial', initial, 0, 0xffff_ffff);
    checkBoolean('options.semaphore', semaphore);
    const fd = native.createEventFd(initial, semaphore);
    if (fd < 0) throw syscallError(fd, { syscall: 'eventfd', request: 'eventfd', target: 'eventfd' });
    return new EventFd(CONSTRUCTING, fd);
  }

  /** Adds `value` (default 1) to the counter: what the kernel does when the eventfd is signalled. */
  signal(value: bigint = 1n): void {
    const fd = this.fdFor('signal');
    checkBigU64('value', value, 1n, MAX_COUNT);
    const result = native.eventFdWrite(fd, value);
    if (result < 0) throw syscallError(result, { syscall: 'write', request: 'write', target: this.target, hint: result === EAGAIN ? 'the counter would overflow: read it first' : undefined });
  }

  /** The count signalled since the last read (and resets it), or 0n when none; never blocks. */
  read(): bigint {
    const result = native.eventFdRead(this.fdFor('read'));
    if (typeof result === 'bigint') return result;
    if (result === EAGAIN) return 0n;
    throw syscallError(result, { syscall: 'read', request: 'read', target: this.target });
  }

  /**
   * Calls `onSignal(count)` on the event loop each time the eventfd is signalled (the count is
   * read, so the counter starts again from 0). One watch at a time; close() or unwatch() ends it.
   */
  watch(onSignal: (count: bigint) => void): void {
    const fd = this.fdFor('watch');
    if (typeof onSignal !== 'function') throw invalidArgType('onSignal', 'a function', onSignal);
    if (this.#watch) throw usageError('ERR_KVM_EVENTFD_WATCHED', this.target, 'watch() is already active on this eventfd: unwatch() first');
    const watch = native.eventFdWatch(fd, (count) => {
      if (typeof count === 'bigint') onSignal(count);
    });
    if (typeof watch === 'number') throw syscallError(watch, { syscall: 'uv_poll_init', request: 'uv_poll_init', target: this.target });
    this.#watch = watch;
  }

  /** Ends watch(); does nothing when not watching. */
  unwatch(): void {
    const watch = this.#watch;
    this.#watch = undefined;
    if (watch) native.eventFdUnwatch(watch);
  }

  /** Resolves with the next signalled count (watching until then). */
  next(): Promise<bigint> {
    this.fdFor('next');
    return new Promise((resolve) => {
      this.watch((count) => {
        this.unwatch();
        resolve(count);
      });
    });
  }

  protected override beforeClose(): void {
    this.unwatch();
  }
}
