// What a call made of setup steps returns (Linkage, GroupDmaWindow): closing it undoes the steps.
import { KvmVfioError, type Target } from './errors.js';
import { type CONSTRUCTING, requireConstructing } from './handle.js';
import { type Release, releaseAll, releaseAllAsync } from './shared-steps.js';

/**
 * The result of a call made of setup steps ({@link Linkage}, {@link GroupDmaWindow}). close() or
 * closeAsync() (or dispose) undoes, in reverse order, every step that no other result still needs.
 */
export abstract class StepwiseSetup implements Disposable, AsyncDisposable {
  #releases: Release[] | undefined;

  /** @internal Made by the library's calls only (`name` is the class, for the error). */
  protected constructor(token: typeof CONSTRUCTING, name: string, releases: Release[]) {
    requireConstructing(token, name);
    this.#releases = releases;
  }

  /** True once close() or closeAsync() was called. */
  get closed(): boolean {
    return this.#releases === undefined;
  }

  /** Undoes the setup steps in reverse. Idempotent; throws ERR_KVM_DETACH if a step fails to undo (the others are still undone). */
  close(): void {
    const releases = this.#takeReleases();
    if (releases) this.#reportFailures(releaseAll(releases));
  }

  /**
   * close() with the slow steps (removing a DMA window, which clears its whole TCE table, and
   * unregistering memory) off the main thread, so a large teardown does not stall the event loop.
   * The result counts as closed from the call on; await it before using the same group again.
   */
  async closeAsync(): Promise<void> {
    const releases = this.#takeReleases();
    if (releases) this.#reportFailures(await releaseAllAsync(releases));
  }

  /** close() for `using`, except that it never throws (teardown failures are dropped). */
  [Symbol.dispose](): void {
    try {
      this.close();
    } catch {
      // dispose never throws; close() reports failures to callers that want them
    }
  }

  /** closeAsync() for `await using`, except that it never rejects (teardown failures are dropped). */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.closeAsync();
    } catch {
      // like [Symbol.dispose]: closeAsync() reports failures to callers that want them
    }
  }

  /** @internal What the teardown error names: what was being undone, and the target. */
  protected abstract teardownName(): { action: string; target: Target };

  #takeReleases(): Release[] | undefined {
    const releases = this.#releases;
    this.#releases = undefined;
    return releases;
  }

  #reportFailures(failures: Error[]): void {
    if (failures.length === 0) return;
    const { action, target } = this.teardownName();
    throw new KvmVfioError(`${action}: ${failures.map((f) => f.message).join('; ')}`, {
      code: 'ERR_KVM_DETACH',
      target,
      hint: 'some teardown steps failed; the rest were still undone',
    }, { cause: failures[0] });
  }
}
