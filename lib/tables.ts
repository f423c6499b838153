// The request numbers and constants as compiled into the addon for this architecture.
import { native } from './native.js';

/** Every ioctl request number the addon uses, from the target's kernel headers (they differ by architecture). */
export const requestNumbers: Readonly<Record<string, number>> = Object.freeze({ ...native.requests });

/** Kernel constants as the addon's headers define them; lib/constants.ts is tested against these. */
export const headerConstants: Readonly<Record<string, number>> = Object.freeze({ ...native.constants });
