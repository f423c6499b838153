// Reference-counted setup steps shared by linkages: adding a group to the KVM-VFIO device, setting
// a group's container, creating a DMA window, registering memory... Two linkages on one group
// (e.g. a 32-bit and a 64-bit window, each with its own LIOBN) share the steps they have in
// common; a step is undone when the last linkage that needs it lets it go, and only if a linkage
// did it (state found already in place is left as it was).

/**
 * Undoes a step; may throw (the caller collects the error). A slow teardown also offers `async`,
 * the same undo off the main thread, used by Linkage.closeAsync.
 */
export type Teardown = (() => void) & { async?: () => Promise<void> };
/** Gives up one reference to a step; `async` gives it up with the async teardown where there is one. */
export type Release = (() => void) & { async?: () => Promise<void> };

/** A teardown with an async variant. */
export function slowTeardown(sync: () => void, async: () => Promise<void>): Teardown {
  return Object.assign(sync, { async });
}

interface Entry {
  refs: number;
  teardown: Teardown | undefined;
}

const steps = new WeakMap<object, Map<string, Entry>>();

/**
 * Takes a reference to step `key` of `owner`. The first reference runs `perform`, which does the
 * step and returns how to undo it, or returns undefined when the state was already there (then
 * nothing is undone later). Returns the release for this reference.
 */
export function acquireStep(owner: object, key: string, perform: () => Teardown | undefined): Release {
  let entries = steps.get(owner);
  if (!entries) {
    entries = new Map();
    steps.set(owner, entries);
  }
  let entry = entries.get(key);
  if (entry) {
    entry.refs += 1;
  } else {
    entry = { refs: 1, teardown: perform() };
    entries.set(key, entry);
  }
  const held = entry;
  const map = entries;
  let released = false;
  const letGo = (): Teardown | undefined => {
    if (released) return undefined;
    released = true;
    held.refs -= 1;
    if (held.refs > 0) return undefined;
    map.delete(key);
    return held.teardown;
  };
  return Object.assign(() => letGo()?.(), {
    async: async () => {
      const teardown = letGo();
      if (teardown) await (teardown.async ? teardown.async() : teardown());
    },
  });
}

/** How many references step `key` of `owner` has (0 when nobody holds it). */
export function stepReferences(owner: object, key: string): number {
  return steps.get(owner)?.get(key)?.refs ?? 0;
}

/** Gives up every release, last first; returns the errors of those that failed (the rest still ran). */
export function releaseAll(releases: Release[]): Error[] {
  const failures: Error[] = [];
  for (const release of releases.reverse()) {
    try {
      release();
    } catch (error) {
      failures.push(error as Error);
    }
  }
  return failures;
}

/** releaseAll with each release's async teardown where it has one. */
export async function releaseAllAsync(releases: Release[]): Promise<Error[]> {
  const failures: Error[] = [];
  for (const release of releases.reverse()) {
    try {
      await (release.async ? release.async() : release());
    } catch (error) {
      failures.push(error as Error);
    }
  }
  return failures;
}
