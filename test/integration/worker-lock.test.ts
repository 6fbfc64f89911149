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

// The worker under test: a task of ~3.5 s of CPU (longer on a loaded machine) against a 1.5 s lock,
// which BullMQ renews every 750 ms. The lock is wide enough that a machine busy with other work
// does not starve the renewal by itself; the task is long enough that it outlives the lock several
// times, which only renewal can survive. The renewal count proves the length, not a clock.
const LOCK_MS = 1500
const STALLED_MS = 750
const ITERATIONS = 70_000_000
const MIN_RENEWALS = 3 // 3 x 750 ms: the task held its lock past 1.5 lock durations
// The control: a synchronous loop of ~1.5 s against a 600 ms lock. A loaded machine only makes
// that loop longer, so the control loses its lock all the more surely.
const CONTROL_LOCK_MS = 600
const CONTROL_STALLED_MS = 300
const CONTROL_ITERATIONS = 30_000_000

describe('worker: CPU work does not starve BullMQ lock renewal (real redis-server)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const connection = () => redisOptions({mode: 'standalone', url: redis.url})

  it('runs a task that outlives its lock several times exactly once, never stalled', async () => {
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

      const job = await queue.add(TASK_JOB_NAME, {iterations: ITERATIONS, queuedAt: new Date().toISOString()})
      const outcome = await job.waitUntilFinished(events, 240_000)

      // The proof needs a task that outlived its lock: only renewals kept it (a precondition on a
      // fast machine, where a shorter task would prove nothing; raise ITERATIONS then).
      expect(renewals, 'lock renewals while the one task ran').toBeGreaterThanOrEqual(MIN_RENEWALS)
      expect(outcome).toMatchObject({iterations: ITERATIONS, worker: 'lock-test', resumedFrom: 0})
      expect(actives).toEqual([job.id])
      expect(stalled).toEqual([])
      expect(errors).toEqual([])
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
  }, 300_000)

  it('control: the same task as one synchronous loop loses its lock (so the test above can fail)', async () => {
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData>(queueName, {connection: connection() as ConnectionOptions})
    const signs: string[] = []
    // Deliberately the naive processor this service avoids: no turn of the event loop for ~1.5 s.
    const naive = new Worker<TaskData>(queueName, async (job: Job<TaskData>) => hashIterations(TASK_SEED, job.data.iterations), {
      connection: connection() as ConnectionOptions,
      lockDuration: CONTROL_LOCK_MS,
      stalledInterval: CONTROL_STALLED_MS,
      maxStalledCount: 1,
    })
    naive.on('error', (error) => signs.push(`error: ${error.message}`))
    naive.on('stalled', (id) => signs.push(`stalled: ${id}`))
    naive.on('failed', (_job, error) => signs.push(`failed: ${error.message}`))
    try {
      await naive.waitUntilReady()
      await queue.add(TASK_JOB_NAME, {iterations: CONTROL_ITERATIONS, queuedAt: new Date().toISOString()})
      // The sign comes when the blocked loop ends: on a loaded machine that can take a minute or more.
      await waitFor(() => signs.length > 0, {timeoutMs: 180_000, what: 'a lost lock, a stall or a failure'})
      expect(signs.join('\n')).toMatch(/lock|stalled/i)
    } finally {
      await naive.close(true)
      await queue.obliterate({force: true})
      await queue.close()
    }
  }, 240_000)
})
