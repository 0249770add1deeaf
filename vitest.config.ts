import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['broker/**/*.test.ts', 'operator/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start brokers as processes; two cores run them best one file at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
