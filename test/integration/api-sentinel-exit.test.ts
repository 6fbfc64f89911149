/**
 * `keda-lab serve api` in Sentinel mode stops on SIGTERM: ioredis' quit() left the Sentinel
 * connections of its failover detector open and the process never exited (found by the chaos
 * harness; in a cluster every API pod would wait out its termination grace period).
 */
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {freePort, stopProcess} from '../helpers/processes.js'
import {type SentinelSet, startSentinelSet} from '../helpers/redis.js'
import {type ServeProcess, spawnServe, waitUntilReady} from '../helpers/serve.js'

describe('serve api with Sentinels', () => {
  let set: SentinelSet
  let api: ServeProcess | undefined
  beforeAll(async () => {
    set = await startSentinelSet()
  }, 60_000)
  afterAll(async () => {
    if (api) await stopProcess(api.child, 'SIGKILL')
    await set?.stop()
  })

  it('exits by itself with code 0 after SIGTERM', async () => {
    const [port, metricsPort] = [await freePort(), await freePort()]
    api = spawnServe('api', {
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      REDIS_SENTINELS: set.sentinelsEnv,
      REDIS_SENTINEL_MASTER: set.masterName,
      REDIS_PASSWORD: set.password,
      REDIS_SENTINEL_PASSWORD: set.password,
      QUEUE_NAME: `test-${randomUUID()}`,
    })
    await waitUntilReady(api, {http: `http://127.0.0.1:${port}/readyz`}, 60_000)
    api.child.kill('SIGTERM')
    // Generous margin for a loaded machine: before the fix it never exited at all.
    const code = await Promise.race([api.exited.then((e) => e.code), new Promise<'still running'>((r) => setTimeout(() => r('still running'), 45_000))])
    expect(code).toBe(0)
  }, 120_000)
})
