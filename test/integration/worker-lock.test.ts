import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, type Job, Queue, QueueEvents, Worker} from 'bullmq'
import {pino} from 'pino'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {createWorker, type TaskWorker} from '../../src/services/worker/worker.js'
import {hashIterations, TASK_SEED} from '../../src/services/worker/work.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'
import {waitFor} from '../helpers/processes.js'

// A task of ~2.5 s of CPU against a 600 ms lock (renewed every 150 ms): about four lock periods long.
const LOCK_MS = 600
const STALLED_MS = 300
const ITERATIONS = 50_000_000

describe('worker: CPU work does not starve BullMQ lock renewal (real redis-server)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const connection = () => redisOptions({mode: 'standalone', url: redis.url})

  it('runs a task many lock periods long exactly once, never stalled', async () => {
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData>(queueName, {connection: connection() as ConnectionOptions})
    const events = new QueueEvents(queueName, {connection: connection() as ConnectionOptions})
    let worker: TaskWorker | undefined
    try {
      await events.waitUntilReady()
      worker = createWorker({
        config: {
          redis: {mode: 'standalone', url: redis.url},
          queueName,
          concurrency: 1,
          defaultIterations: 0,
          lockDurationMs: LOCK_MS,
          stalledIntervalMs: STALLED_MS,
          maxStalledCount: 1,
          shutdownGraceMs: 5000,
          name: 'lock-test',
        },
        logger: pino({level: 'silent'}),
      })
      const actives: string[] = []
      const stalled: string[] = []
      const errors: string[] = []
      let renewals = 0
      worker.bull.on('active', (job) => actives.push(job.id!))
      worker.bull.on('stalled', (id) => stalled.push(id))
      worker.bull.on('error', (error) => errors.push(error.message))
      worker.bull.on('locksRenewed', () => renewals++)
      events.on('stalled', ({jobId}) => stalled.push(jobId))
      await worker.waitUntilReady()

      const started = Date.now()
      const job = await queue.add(TASK_JOB_NAME, {iterations: ITERATIONS, queuedAt: new Date().toISOString()})
      const outcome = await job.waitUntilFinished(events, 60_000)
      const elapsed = Date.now() - started

      expect(elapsed).toBeGreaterThan(3 * LOCK_MS) // the proof needs a task several locks long
      expect(outcome).toMatchObject({iterations: ITERATIONS, worker: 'lock-test', resumedFrom: 0})
      expect(actives).toEqual([job.id])
      expect(stalled).toEqual([])
      expect(errors).toEqual([])
      expect(renewals).toBeGreaterThanOrEqual(2)
      const done = (await queue.getJob(job.id!))!
      expect(done.attemptsStarted).toBe(1)
      expect(done.attemptsMade).toBe(1) // completing counts as an attempt made in BullMQ 6
      expect(done.stalledCounter).toBe(0)
      expect(done.progress).toBe(100)
    } finally {
      await worker?.shutdown(0)
      await events.close()
      await queue.obliterate({force: true})
      await queue.close()
    }
  })

  it('control: the same task as one synchronous loop loses its lock (so the test above can fail)', async () => {
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData>(queueName, {connection: connection() as ConnectionOptions})
    const signs: string[] = []
    // Deliberately the naive processor this service avoids: no turn of the event loop for ~1.5 s.
    const naive = new Worker<TaskData>(
      queueName,
      async (job: Job<TaskData>) => hashIterations(TASK_SEED, job.data.iterations),
      {connection: connection() as ConnectionOptions, lockDuration: LOCK_MS, stalledInterval: STALLED_MS, maxStalledCount: 1},
    )
    naive.on('error', (error) => signs.push(`error: ${error.message}`))
    naive.on('stalled', (id) => signs.push(`stalled: ${id}`))
    naive.on('failed', (_job, error) => signs.push(`failed: ${error.message}`))
    try {
      await naive.waitUntilReady()
      await queue.add(TASK_JOB_NAME, {iterations: 30_000_000, queuedAt: new Date().toISOString()})
      await waitFor(() => signs.length > 0, {timeoutMs: 30_000, what: 'a lost lock, a stall or a failure'})
      expect(signs.join('\n')).toMatch(/lock|stalled/i)
    } finally {
      await naive.close(true)
      await queue.obliterate({force: true})
      await queue.close()
    }
  })
})
