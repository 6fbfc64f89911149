import {randomUUID} from 'node:crypto'

import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {loadApiConfig} from '../../src/services/api/config.js'
import {type ApiApp, buildApp} from '../../src/services/api/app.js'
import {createTaskStore, type TaskStore} from '../../src/services/api/task-store.js'
import {connectionRefused, notYet, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'

/**
 * REDIS_WAIT_REPLICAS, the stronger durability the chaos run measures (scenario 2c): a task is
 * accepted only once a replica holds it. Real redis-server master and replica.
 */
describe('API with REDIS_WAIT_REPLICAS=1 (real redis-server master, then a replica)', () => {
  let master: RedisServer
  let replica: RedisServer | undefined
  let store: TaskStore
  let app: ApiApp
  const queueName = `test-${randomUUID()}`

  beforeAll(async () => {
    master = await startRedis()
    const config = loadApiConfig({REDIS_URL: master.url, QUEUE_NAME: queueName, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '5000'})
    // 5 s: ample for a replica on a loaded machine to acknowledge (the 503 case waits it out once).
    expect(config.redis.replicaAck).toEqual({replicas: 1, timeoutMs: 5000})
    store = createTaskStore({redis: config.redis, queueName, attempts: 1, retentionSeconds: 600})
    app = await buildApp({config: {task: {defaultIterations: 1000, maxIterations: 5000}}, queue: store})
    await waitFor(() => store.isReady(), {what: 'API connected to Redis'})
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
    await replica?.stop()
    await master?.stop()
  })

  it('answers 503 while no replica holds the task, 202 once one does (and the replica has it)', async () => {
    const alone = await app.inject({method: 'POST', url: '/api/tasks'})
    expect(alone.statusCode).toBe(503)
    expect(alone.json().success).toBe(false)

    replica = await startRedis({extraArgs: ['--replicaof', '127.0.0.1', String(master.port)]})
    const probe = new Redis({port: replica.port, lazyConnect: true})
    probe.on('error', () => {})
    try {
      await probe.connect()
      await waitFor(async () => (await probe.info('replication')).includes('master_link_status:up') || notYet('replica not in sync yet'), {
        timeoutMs: 30_000,
        what: 'replica in sync',
        ignore: connectionRefused,
      })
      // ...and the master counts it (WAIT counts the replicas the master knows as connected).
      const admin = new Redis({port: master.port})
      try {
        await waitFor(async () => (await admin.info('replication')).includes('connected_slaves:1') || notYet('master has not counted the replica yet'), {
          timeoutMs: 30_000,
          what: 'master to count its replica',
        })
      } finally {
        admin.disconnect()
      }
      const accepted = await app.inject({method: 'POST', url: '/api/tasks'})
      expect(accepted.statusCode).toBe(202)
      const id = accepted.json().id as string
      // WAIT returned only after the replica acknowledged: the job is there already, no polling.
      expect(await probe.exists(`bull:${queueName}:${id}`)).toBe(1)
    } finally {
      probe.disconnect()
    }
  })
})
