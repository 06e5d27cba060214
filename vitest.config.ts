import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/harness/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // expect.poll waits on a condition; its default (1 s) is a wall-clock
    // limit that a loaded machine misses (a page's answer after a deploy).
    expect: { poll: { timeout: 10_000 } },
  },
});
