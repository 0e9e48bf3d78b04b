// Two projects: fast unit/property tests, and slow end-to-end tests against real processes.
// `npm test` runs both; the e2e project runs its files one at a time (they share the host's network).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.test-results/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{src,checkers,nemeses,workloads,reports,targets,docker,scenarios}/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['{src,checkers,nemeses,workloads,reports,targets,docker,scenarios}/**/*.e2e.test.ts'],
          exclude: ['node_modules/**', 'dist/**'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
