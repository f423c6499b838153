// The benchmark forges library objects over pipes and /dev/null through the internal factories
// (bench/twins.mjs); this keeps it in step with them, so `npm run bench` cannot rot unnoticed.
import { describe, expect, it } from 'vitest';
import { resourceStats } from '../dist/index.js';

describe('bench/twins.mjs', () => {
  it('builds the objects the hot-call rows measure, and closes them', async () => {
    const { objectsOver } = await import('../bench/twins.mjs');
    const before = resourceStats().ownedFds;
    const objects = objectsOver('/dev/null');
    expect(resourceStats().ownedFds).toBe(before + 5);
    objects.close();
    expect(resourceStats().ownedFds).toBe(before);
  });
});
