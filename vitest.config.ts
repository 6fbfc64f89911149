import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Tests start real processes (redis-server, redis-sentinel, helm, the CLI); a failing
    // test must not leave them behind, so every harness registers its own teardown.
    teardownTimeout: 20_000,
  },
})
