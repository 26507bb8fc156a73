import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    // Integration suites start real Postgres/Redis/nginx; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites run in separate forks so a crashed server helper cannot take others down.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'dist/test-report.json' },
  },
});
