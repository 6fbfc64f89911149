import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ApiApp, buildApp} from '../../src/services/api/app.js'
import {createTaskStore, type TaskStore} from '../../src/services/api/task-store.js'
import {waitFor} from '../helpers/processes.js'
import {type SentinelSet, startSentinelSet} from '../helpers/redis.js'

describe('API in Sentinel mode (real redis-sentinel x3, master + replica)', () => {
  let set: SentinelSet
  let queue: TaskStore
  let app: ApiApp

  beforeAll(async () => {
    set = await startSentinelSet()
    queue = createTaskStore({
      redis: {mode: 'sentinel', sentinels: set.sentinels, masterName: set.masterName, password: set.password, sentinelPassword: set.password},
      queueName: `test-${randomUUID()}`,
      attempts: 1,
      retentionSeconds: 600,
      commandTimeoutMs: 1000,
    })
    app = await buildApp({config: {task: {defaultIterations: 1000, maxIterations: 5000}}, queue})
    await waitFor(() => queue.isReady(), {what: 'API connected through the Sentinels'})
  }, 60_000)

  afterAll(async () => {
    await app?.close()
    await queue?.close()
    await set?.stop()
  })

  it('queues and reads tasks before and after a failover, on the new master', async () => {
    const before = await app.inject({method: 'POST', url: '/api/tasks/add'})
    expect(before.statusCode).toBe(200)
    const beforeId = before.json().result.id as string
    expect((await app.inject({method: 'GET', url: '/readyz'})).statusCode).toBe(200)

    const {from, to} = await set.failover()
    expect(to).not.toBe(from)

    // During the switch requests may get 503 (never hang); within a deadline they succeed again.
    const afterId = await waitFor(
      async () => {
        const response = await app.inject({method: 'POST', url: '/api/tasks'})
        if (response.statusCode !== 202) {
          expect(response.statusCode).toBe(503)
          return undefined
        }
        return response.json().id as string
      },
      {timeoutMs: 20_000, intervalMs: 200, what: 'enqueue after the failover'},
    )
    const after = await app.inject({method: 'GET', url: `/api/tasks/${afterId}`})
    expect(after.statusCode).toBe(200)
    expect(after.json()).toMatchObject({id: afterId, status: 'Queued'})
    // The task queued before the failover was replicated and is still there.
    const old = await app.inject({method: 'GET', url: `/api/tasks/status/${beforeId}`})
    expect(old.statusCode).toBe(200)
    expect(old.json().result.progress.status).toBe('Queued')
    expect((await app.inject({method: 'GET', url: '/readyz'})).statusCode).toBe(200)
    expect(await set.masterPort()).toBe(to)
  })
})
