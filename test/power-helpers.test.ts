// test/power/helpers.mjs runs on the emulated POWER host; its expectKvmError must not leave behind
// what a call that unexpectedly succeeded returned (a group left open makes every later test EBUSY).
import { describe, expect, it } from 'vitest';
import { expectKvmError } from './power/helpers.mjs';

describe('test/power/helpers.mjs expectKvmError', () => {
  it('closes what an unexpectedly successful call returned, then fails the assertion', () => {
    let closed = 0;
    expect(() => expectKvmError(() => ({ close: () => { closed += 1; } }), { code: 'EBUSY' })).toThrow(/expected a KvmVfioError EBUSY, nothing was thrown/);
    expect(closed).toBe(1);
  });

  it('fails without touching a result that has no close()', () => {
    expect(() => expectKvmError(() => 42, { code: 'ENOENT' })).toThrow(/nothing was thrown/);
  });
});
