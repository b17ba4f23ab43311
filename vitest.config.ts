import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/test/**/*.test.ts'],
    // Child processes, not worker threads: PGlite's WASM heap and the data-dir
    // locks are per process, and tests spawn processes of their own.
    pool: 'forks',
    // Two files at a time, also on a 2-core machine (Vitest's default there is one): most of a file's time
    // is spent waiting on Postgres, Redis, PGlite's disk or a child process, and one at a time the suite
    // took 29.5 min of CI's 30 (two: 15-16 min). Every file has its own databases, key prefixes and ports.
    maxWorkers: Number(process.env.FERRY_TEST_WORKERS ?? 2),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
