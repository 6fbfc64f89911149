import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue} from 'bullmq'
import {pino} from 'pino'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import type {RedisConfig} from '../../src/config/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {createWorker, type TaskOutcome, type TaskWorker} from '../../src/services/worker/worker.js'
import {completedJob} from '../helpers/jobs.js'
import {connectionRefused, waitFor} from '../helpers/processes.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'

describe('worker at run time: concurrency and a Redis restart (real redis-server)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  const start = async (concurrency: number) => {
    const config: RedisConfig = {mode: 'standalone', url: redis.url}
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData, TaskOutcome>(queueName, {connection: redisOptions(config) as ConnectionOptions})
    const worker = createWorker({
      config: {
        redis: config,
        queueName,
        concurrency,
        defaultIterations: 0,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        maxStalledCount: 1,
        shutdownGraceMs: 5000,
        name: `c${concurrency}`,
      },
      logger: pino({level: 'silent'}),
    })
    await worker.waitUntilReady()
    return {queue, worker}
  }
  const stop = async ({queue, worker}: {queue: Queue; worker: TaskWorker}) => {
    await worker.shutdown(0)
    await queue.obliterate({force: true}).catch(() => {})
    await queue.close()
  }
  const add = (queue: Queue<TaskData, TaskOutcome>, iterations: number) =>
    queue.add(TASK_JOB_NAME, {iterations, queuedAt: new Date().toISOString()}, {jobId: randomUUID()})

  it('WORKER_CONCURRENCY=2 runs two tasks at once (interleaved on one thread)', async () => {
    const running = await start(2)
    try {
      const [a, b] = await Promise.all([add(running.queue, 4_000_000), add(running.queue, 4_000_000)])
      await waitFor(() => running.worker.active() === 2, {intervalMs: 5, what: 'two tasks running at once'})
      const done = await Promise.all([a, b].map((job) => waitFor(() => completedJob(running.queue, job.id!), {timeoutMs: 30_000, what: `task ${job.id}`})))
      // Each started before the other finished.
      expect(done[0]!.processedOn!).toBeLessThan(done[1]!.finishedOn!)
      expect(done[1]!.processedOn!).toBeLessThan(done[0]!.finishedOn!)
      expect(await running.worker.metrics.registry.getSingleMetricAsString('keda_lab_worker_concurrency')).toMatch(/ 2$/m)
    } finally {
      await stop(running)
    }
  })

  it('keeps running through a Redis restart and takes tasks again when Redis is back', async () => {
    const running = await start(1)
    try {
      const first = await add(running.queue, 1000)
      await waitFor(() => completedJob(running.queue, first.id!), {what: 'task before the restart'})
      await redis.kill()
      await redis.restart() // same port, empty data (no persistence in the harness)
      // The queue's client reconnects by itself; until it has, only a refused connection is "not yet".
      const second = await waitFor(() => add(running.queue, 1000), {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'enqueue after restart',
        ignore: connectionRefused,
      })
      const finished = await waitFor(() => completedJob(running.queue, second.id!), {timeoutMs: 30_000, what: 'task after the restart'})
      expect(finished.returnvalue).toMatchObject({worker: 'c1'})
    } finally {
      await stop(running)
    }
  })
})
