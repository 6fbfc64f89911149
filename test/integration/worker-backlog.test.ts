import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue} from 'bullmq'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'
import {completedJob} from '../helpers/jobs.js'
import {notYet, spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'

/**
 * One real `keda-lab serve worker` process (logging at info, as deployed) with empty tasks: an
 * idle worker takes each new task, and a backlog is drained completely, each task exactly once.
 * How fast (the 1,000 empty tasks/s and the 5 ms p50 enqueue-to-start) is measured by
 * `npm run bench` (rows 4 and 5), not asserted here: a shared, loaded machine makes any time
 * limit in a test flaky, while the behaviour below holds on any machine.
 */
describe('worker with empty tasks (real redis-server, one worker process)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('takes each task while idle, then drains a backlog, every task once and none failed', async () => {
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData>(queueName, {connection: redisOptions({mode: 'standalone', url: redis.url}) as ConnectionOptions})
    const name = `backlog-${randomUUID().slice(0, 8)}`
    const child = spawnTracked(process.execPath, [cliEntry(), 'serve', 'worker'], {
      cwd: repoRoot,
      env: {...process.env, REDIS_URL: redis.url, QUEUE_NAME: queueName, METRICS_PORT: '0', LOG_LEVEL: 'info', WORKER_NAME: name},
    })
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    try {
      await waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`the worker exited (${child.exitCode}) before it was ready:\n${output}`)
          return output.includes('worker ready')
        },
        {timeoutMs: 30_000, what: 'worker ready'},
      )
      const empty = () => ({iterations: 0, queuedAt: new Date().toISOString()})

      // Idle: one task at a time, the worker waiting on its blocking pop.
      for (let i = 0; i < 10; i++) {
        const job = await queue.add(TASK_JOB_NAME, empty(), {jobId: randomUUID()})
        const done = await waitFor(() => completedJob(queue, job.id!), {intervalMs: 5, what: `idle task ${i + 1}`})
        expect(done.returnvalue).toMatchObject({iterations: 0, worker: name})
      }

      // A backlog, filled while the queue is paused so that the worker meets all of it at once.
      const total = 1000
      const jobs = Array.from({length: total}, () => ({name: TASK_JOB_NAME, data: empty(), opts: {jobId: randomUUID()}}))
      await queue.pause()
      for (let i = 0; i < total; i += 500) await queue.addBulk(jobs.slice(i, i + 500))
      await queue.resume()
      await waitFor(
        async () => {
          const counts = await queue.getJobCounts('completed', 'failed')
          expect(counts.failed, 'no empty task fails').toBe(0)
          const completed = counts.completed ?? 0
          return completed === total + 10 || notYet(`${completed - 10} of ${total} completed`)
        },
        {timeoutMs: 45_000, intervalMs: 50, what: `${total} empty tasks completed`},
      )
      const completed = await queue.getJobs(['completed'], 0, -1)
      expect(new Set(completed.map((j) => j.id)).size).toBe(total + 10)
      expect(completed.filter((j) => j.attemptsStarted !== 1 || j.processedBy !== name)).toEqual([])
    } finally {
      await stopProcess(child)
      await queue.obliterate({force: true}).catch(() => {})
      await queue.close()
    }
  })
})
