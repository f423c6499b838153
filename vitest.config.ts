import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/power/**', 'node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    // Native addons must not share a process with vitest's thread workers.
    pool: 'forks',
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
  },
});
