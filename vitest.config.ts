import { defineConfig } from 'vitest/config';

/** Measures timing against a known target: it runs alone, after the rest, so other suites' load cannot skew it. */
const TIMING = ['test/loadtest/accuracy.test.ts'];

export default defineConfig({
  test: {
    exclude: ['test/bench/**', 'node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    // Integration suites start real Postgres/Redis/nginx; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites run in separate forks so a crashed server helper cannot take others down.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'dist/test-report.json' },
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: ['test/bench/**', 'node_modules/**', ...TIMING], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'timing', include: TIMING, sequence: { groupOrder: 1 } } },
    ],
  },
});
