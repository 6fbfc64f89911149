import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue} from 'bullmq'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {cliEntry, repoRoot} from '../helpers/cli.js'
import {spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'

/**
 * The queue-overhead targets, checked against one real `keda-lab serve worker` process
 * (logging at info, as deployed): at least 1,000 empty tasks per second, and with an idle
 * worker an enqueue-to-start latency whose median is under 5 ms. `npm run bench` measures the
 * same from the outside; this test keeps a regression from landing unnoticed.
 */
describe('worker queue overhead with empty tasks (real redis-server, one worker process)', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  it('starts an idle task within 5 ms (p50) and runs over 1,000 empty tasks/s', async () => {
    const queueName = `test-${randomUUID()}`
    const queue = new Queue<TaskData>(queueName, {connection: redisOptions({mode: 'standalone', url: redis.url}) as ConnectionOptions})
    const child = spawnTracked(process.execPath, [cliEntry(), 'serve', 'worker'], {
      cwd: repoRoot,
      env: {...process.env, REDIS_URL: redis.url, QUEUE_NAME: queueName, METRICS_PORT: '0', LOG_LEVEL: 'info'},
    })
    let ready = false
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker ready')) ready = true
    })
    try {
      await waitFor(() => ready, {timeoutMs: 30_000, what: 'worker ready'})
      const empty = () => ({iterations: 0, queuedAt: new Date().toISOString()})

      // Idle latency: one task at a time, the worker waiting on its blocking pop.
      const latencies: number[] = []
      for (let i = 0; i < 100; i++) {
        const job = await queue.add(TASK_JOB_NAME, empty(), {jobId: randomUUID()})
        const started = await waitFor(async () => (await queue.getJob(job.id!))?.processedOn, {intervalMs: 2, what: 'task start'})
        latencies.push(started - job.timestamp)
      }
      latencies.sort((a, b) => a - b)
      const p50 = latencies[49]!

      // Throughput: a backlog of empty tasks drained by the one worker.
      const total = 3000
      const before = (await queue.getJobCounts('completed')).completed ?? 0
      const jobs = Array.from({length: total}, () => ({name: TASK_JOB_NAME, data: empty(), opts: {jobId: randomUUID()}}))
      // Filled while the queue is paused, so that the clock measures the worker, not the producer.
      await queue.pause()
      for (let i = 0; i < total; i += 500) await queue.addBulk(jobs.slice(i, i + 500))
      const t0 = performance.now()
      await queue.resume()
      await waitFor(async () => ((await queue.getJobCounts('completed')).completed ?? 0) - before >= total, {
        timeoutMs: 30_000,
        intervalMs: 10,
        what: `${total} empty tasks completed`,
      })
      const perSecond = total / ((performance.now() - t0) / 1000)

      console.log(`worker queue overhead: idle enqueue-to-start p50 ${p50} ms (p90 ${latencies[89]} ms); ${perSecond.toFixed(0)} empty tasks/s`)
      expect(p50).toBeLessThan(5)
      expect(perSecond).toBeGreaterThan(1000)
    } finally {
      await stopProcess(child)
      await queue.obliterate({force: true}).catch(() => {})
      await queue.close()
    }
  })
})
