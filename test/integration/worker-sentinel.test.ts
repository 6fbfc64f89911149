import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue, QueueEvents} from 'bullmq'
import {pino} from 'pino'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import type {RedisConfig} from '../../src/config/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {createWorker, type TaskOutcome, type TaskWorker} from '../../src/services/worker/worker.js'
import {taskChecksum} from '../../src/services/worker/work.js'
import {completedJob} from '../helpers/jobs.js'
import {waitFor} from '../helpers/processes.js'
import {failoverTransient} from '../helpers/redis.js'
import {startSentinelSet, type SentinelSet} from '../helpers/redis.js'

describe('worker in Sentinel mode (real redis-server x2 + redis-sentinel x3)', () => {
  let set: SentinelSet
  beforeAll(async () => {
    set = await startSentinelSet()
  })
  afterAll(async () => {
    await set?.stop()
  })

  it('processes tasks before and after a failover, in the same running worker', async () => {
    const redis: RedisConfig = {
      mode: 'sentinel',
      sentinels: set.sentinels,
      masterName: set.masterName,
      password: set.password,
      sentinelPassword: set.password,
    }
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData, TaskOutcome>(queueName, {connection: redisOptions(redis) as ConnectionOptions})
    const events = new QueueEvents(queueName, {connection: redisOptions(redis) as ConnectionOptions})
    let worker: TaskWorker | undefined
    const logs: string[] = []
    try {
      await events.waitUntilReady()
      worker = createWorker({
        config: {
          redis,
          queueName,
          concurrency: 1,
          defaultIterations: 0,
          lockDurationMs: 30_000,
          stalledIntervalMs: 30_000,
          maxStalledCount: 1,
          shutdownGraceMs: 5000,
          name: 'sentinel-worker',
        },
        logger: pino({level: 'info'}, {write: (line: string) => void logs.push(line)}),
      })
      await worker.waitUntilReady()
      const before = await queue.add(TASK_JOB_NAME, {iterations: 100_000, queuedAt: new Date().toISOString()})
      expect(await before.waitUntilFinished(events, 20_000)).toMatchObject({worker: 'sentinel-worker', checksum: taskChecksum(100_000)})

      const {from, to} = await set.failover()
      expect(to).not.toBe(from)

      // The producer may need a moment to find the new master: only the errors of a switching
      // master (refused or reset connection, READONLY from the demoted one) mean "not yet".
      const after = await waitFor(async () => queue.add(TASK_JOB_NAME, {iterations: 100_000, queuedAt: new Date().toISOString()}), {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'enqueue on the new master',
        ignore: failoverTransient,
      })
      // Taken and completed by the same worker, on its first attempt, without a restart: it
      // followed the Sentinels to the new master (how fast it does so is a figure, not a test).
      const done = await waitFor(() => completedJob(queue, after.id!), {timeoutMs: 30_000, intervalMs: 100, what: 'task after failover'})
      expect(done.attemptsStarted).toBe(1)
      expect(await done.getState()).toBe('completed')
      expect(done.returnvalue).toMatchObject({worker: 'sentinel-worker', checksum: taskChecksum(100_000)})
      expect(done.processedBy).toBe('sentinel-worker')
      // It ran on the new master: the job lives there.
      expect(await set.masterPort()).toBe(to)
      // No password in anything the worker logged.
      expect(logs.join('')).not.toContain(set.password)
    } finally {
      await worker?.shutdown(0)
      await events.close()
      await queue.obliterate({force: true}).catch(() => {})
      await queue.close()
    }
  })
})
