import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Tests start real processes (redis-server, redis-sentinel, helm, the CLI); a failing test must
    // not leave them behind. Every harness stops its own in its teardown; test/setup/processes.ts
    // (run in the main vitest process) kills whatever a dead worker could not stop.
    // test/cluster/global-setup.ts: one real Kubernetes control plane per run, started on first
    // use by a cluster test (test/cluster/harness.ts) and stopped here at the end.
    globalSetup: ['test/setup/processes.ts', 'test/cluster/global-setup.ts'],
    teardownTimeout: 20_000,
  },
})
