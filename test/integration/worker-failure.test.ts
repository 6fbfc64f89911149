import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue} from 'bullmq'
import {pino} from 'pino'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {createWorker, type TaskOutcome, type TaskWorker} from '../../src/services/worker/worker.js'
import {notYet, waitFor} from '../helpers/processes.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'

describe('worker: failed tasks, retries, bad job data, metrics and logs (real redis-server)', () => {
  let redis: RedisServer
  let queue: Queue<TaskData, TaskOutcome>
  let worker: TaskWorker
  const logs: Array<Record<string, unknown>> = []

  beforeAll(async () => {
    redis = await startRedis({password: 'worker-test-secret'})
  })
  afterAll(async () => {
    await redis?.stop()
  })
  afterEach(async () => {
    await worker?.shutdown(0)
    await queue?.obliterate({force: true}).catch(() => {})
    await queue?.close()
    logs.length = 0
  })

  const setup = async () => {
    const config = {mode: 'standalone' as const, url: redis.url, password: redis.password}
    const queueName = `test-${randomUUID()}`
    queue = new Queue<TaskData, TaskOutcome>(queueName, {connection: redisOptions(config) as ConnectionOptions})
    worker = createWorker({
      config: {
        redis: config,
        queueName,
        concurrency: 1,
        defaultIterations: 1000,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        maxStalledCount: 1,
        shutdownGraceMs: 5000,
        name: 'failure-test',
      },
      logger: pino({level: 'info'}, {write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>)}),
    })
    await worker.waitUntilReady()
  }
  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = await queue.getJob(id)
        return job?.finishedOn ? job : undefined
      },
      {timeoutMs: 20_000, what: `task ${id} finished`},
    )

  it('a task that throws is Failed with its reason, the progress it reached and its failure time', async () => {
    await setup()
    const job = await queue.add(TASK_JOB_NAME, {iterations: 200_000, queuedAt: new Date().toISOString(), failAt: 37}, {jobId: randomUUID()})
    const done = await finished(job.id!)
    expect(await done.getState()).toBe('failed')
    expect(done.failedReason).toBe('task failed on purpose at step 37 of 100 (requested with failAt=37)')
    expect(done.progress).toBe(36)
    expect(done.finishedOn).toBeGreaterThanOrEqual(done.processedOn!)
    const line = logs.find((l) => l.taskId === job.id && l.msg === 'task failed')
    expect(line).toMatchObject({level: 50, progress: 36, reason: done.failedReason})
    const metrics = await worker.metrics.registry.metrics()
    expect(metrics).toMatch(/^keda_lab_worker_tasks_processed_total\{result="failed"\} 1$/m)
    expect(metrics).toMatch(/^keda_lab_worker_task_duration_seconds_count\{result="failed"\} 1$/m)
  })

  it('retries as many times as the job allows (attempts and backoff are set by the API at enqueue)', async () => {
    await setup()
    const job = await queue.add(
      TASK_JOB_NAME,
      {iterations: 1000, queuedAt: new Date().toISOString(), failAt: 50},
      {jobId: randomUUID(), attempts: 3, backoff: {type: 'fixed', delay: 10}},
    )
    const done = await waitFor(
      async () => {
        const current = await queue.getJob(job.id!)
        const state = await current?.getState()
        // Between attempts the job waits (delayed, waiting, active); completing would be wrong.
        expect(state).toMatch(/^(delayed|waiting|wait|active|failed)$/)
        // Read again once failed: the job read before getState may predate the last attempt.
        return state === 'failed' ? queue.getJob(job.id!) : notYet(`state ${state}, ${current?.attemptsMade} attempts made`)
      },
      {timeoutMs: 20_000, what: 'three failed attempts'},
    )
    expect(done.attemptsMade).toBe(3)
    expect(logs.filter((l) => l.taskId === job.id && l.msg === 'task failed').map((l) => l.attempt)).toEqual([1, 2, 3])
  })

  it('rejects bad job data without retrying, naming the field', async () => {
    await setup()
    const job = await queue.add(TASK_JOB_NAME, {iterations: -5, queuedAt: new Date().toISOString()}, {jobId: randomUUID(), attempts: 3})
    const done = await finished(job.id!)
    expect(await done.getState()).toBe('failed')
    expect(done.failedReason).toBe('invalid task data: iterations must not be negative')
    expect(done.attemptsMade).toBe(1)
  })

  it('completes many empty tasks, records them, logs each with its taskId and never the Redis password', async () => {
    await setup()
    const jobs = await queue.addBulk(
      Array.from({length: 50}, () => ({name: TASK_JOB_NAME, data: {iterations: 0, queuedAt: new Date().toISOString()}, opts: {jobId: randomUUID()}})),
    )
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('completed', 'failed')
        expect(counts.failed, 'no empty task fails').toBe(0)
        return counts.completed === 50 || notYet(`${counts.completed} completed`)
      },
      {timeoutMs: 20_000, what: '50 empty tasks'},
    )
    const one = (await queue.getJob(jobs[7]!.id!))!
    expect(one.returnvalue).toMatchObject({iterations: 0, worker: 'failure-test'})
    const metrics = await worker.metrics.registry.metrics()
    expect(metrics).toMatch(/^keda_lab_worker_tasks_processed_total\{result="completed"\} 50$/m)
    expect(metrics).toMatch(/^keda_lab_worker_busy 0$/m)
    expect(metrics).toMatch(/^keda_lab_worker_task_wait_seconds_count 50$/m)
    for (const job of jobs) {
      expect(logs.filter((l) => l.taskId === job.id).map((l) => l.msg)).toEqual(['task started', 'task completed'])
    }
    expect(JSON.stringify(logs)).not.toContain('worker-test-secret')
  })
})
