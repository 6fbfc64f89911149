import {randomUUID} from 'node:crypto'

import {type ConnectionOptions, Queue} from 'bullmq'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import type {TaskOutcome} from '../../src/services/worker/worker.js'
import {taskChecksum} from '../../src/services/worker/work.js'
import {runCli} from '../helpers/cli.js'
import {completedJob} from '../helpers/jobs.js'
import {stopProcess, waitFor} from '../helpers/processes.js'
import {startRedis, type RedisServer} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'

// About 2 s of one core: long enough to signal a worker in the middle of it, short for CI.
const ITERATIONS = 40_000_000
// Tests here start worker processes and run whole tasks of ITERATIONS: about 2 s of CPU each on an
// idle machine, ten times that on a loaded one. The deadlines are margins for the slow case, not speed limits.
const TEST_TIMEOUT_MS = 300_000
let expectedChecksum: number | undefined
const checksum = () => (expectedChecksum ??= taskChecksum(ITERATIONS))

interface SpawnedWorker extends ServeProcess {
  metricsPort(): number
}

/** Starts `keda-lab serve worker` as a user (or the chart) would, and waits until it takes tasks. */
async function spawnWorker(env: Record<string, string>): Promise<SpawnedWorker> {
  const name = `w-${randomUUID().slice(0, 8)}`
  const worker = await startServe(
    'worker',
    {METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', WORKER_NAME: name, LOG_LEVEL: 'info', ...env},
    {
      name,
      ready: {log: 'worker ready: waiting for tasks'},
      timeoutMs: 90_000,
    },
  )
  return Object.assign(worker, {metricsPort: () => Number(worker.lines.find((l) => l.msg === 'worker starting')?.metricsPort)})
}

describe('keda-lab serve worker as a process: SIGTERM, SIGKILL, bad config (real redis-server)', {timeout: TEST_TIMEOUT_MS}, () => {
  let redis: RedisServer
  let queue: Queue<TaskData, TaskOutcome>
  let queueName: string
  const workers: SpawnedWorker[] = []

  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => stopProcess(w.child, 'SIGKILL')))
    await queue?.obliterate({force: true}).catch(() => {})
    await queue?.close()
  })

  const start = async (extra: Record<string, string> = {}) => {
    const worker = await spawnWorker({REDIS_URL: redis.url, QUEUE_NAME: queueName, ...extra})
    workers.push(worker)
    return worker
  }
  const newQueue = () => {
    queueName = `test-${randomUUID()}`
    queue = new Queue<TaskData, TaskOutcome>(queueName, {connection: redisOptions({mode: 'standalone', url: redis.url}) as ConnectionOptions})
    queue.on('error', () => {}) // the Redis-down test stops the server under it
  }
  const enqueue = (iterations = ITERATIONS) => queue.add(TASK_JOB_NAME, {iterations, queuedAt: new Date().toISOString()}, {jobId: randomUUID()})
  /** Polls a job's progress until it is final; returns every value seen, in order. */
  const watchProgress = (id: string) => {
    const seen: number[] = []
    let stop = false
    const done = (async () => {
      while (!stop) {
        const job = await queue.getJob(id)
        if (typeof job?.progress === 'number') seen.push(job.progress)
        await new Promise((r) => setTimeout(r, 50))
      }
    })()
    return {
      seen,
      async end() {
        stop = true
        await done
        return seen
      },
    }
  }
  /** A job's progress; a job that failed fails the wait at once instead of never reaching the step. */
  const progressOf = async (id: string) => {
    const job = await queue.getJob(id)
    if (job?.failedReason) throw new Error(`task ${id} failed: ${job.failedReason}`)
    return Number(job?.progress ?? 0)
  }
  const expectMonotonic = (values: number[]) => {
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]!)
  }

  it('SIGTERM mid-task: takes no new task, finishes the active one within the grace, exits 0', async () => {
    newQueue()
    const worker = await start({WORKER_SHUTDOWN_GRACE_MS: '60000'})
    const job = await enqueue()
    await waitFor(async () => (await progressOf(job.id!)) >= 5, {timeoutMs: 90_000, what: 'task under way'})

    // While it works: its own metrics endpoint says it is busy, and it is healthy.
    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort()}/metrics`)).text()
    expect(metrics).toMatch(/^keda_lab_worker_busy 1$/m)
    expect(metrics).toContain('keda_lab_worker_task_duration_seconds_bucket')
    expect(metrics).toMatch(/^keda_lab_worker_tasks_processed_total\{result="completed"\} 0$/m)
    expect((await fetch(`http://127.0.0.1:${worker.metricsPort()}/healthz`)).status).toBe(200)

    worker.child.kill('SIGTERM')
    await waitFor(() => worker.lines.some((l) => l.msg === 'stop requested'), {what: 'SIGTERM acknowledged'})
    const late = await enqueue()
    const exit = await worker.exited
    expect(exit).toEqual({code: 0, signal: null})

    const finished = (await queue.getJob(job.id!))!
    expect(await finished.getState()).toBe('completed')
    expect(finished.returnvalue).toMatchObject({worker: worker.name, resumedFrom: 0, checksum: checksum()})
    expect(finished.attemptsStarted).toBe(1)
    expect(finished.progress).toBe(100)
    // The task enqueued after SIGTERM was left for another worker.
    expect(await (await queue.getJob(late.id!))!.getState()).toBe('waiting')
    const taskLines = worker.lines.filter((l) => l.taskId === job.id).map((l) => l.msg)
    expect(taskLines).toEqual(['task started', 'task completed'])
  })

  it('SIGTERM with a grace shorter than the task: hands it back with a checkpoint; another worker resumes it', async () => {
    newQueue()
    const first = await start({WORKER_SHUTDOWN_GRACE_MS: '200'})
    const job = await enqueue()
    const progress = watchProgress(job.id!)
    await waitFor(async () => (await progressOf(job.id!)) >= 10, {timeoutMs: 90_000, what: 'task under way'})
    first.child.kill('SIGTERM')
    expect(await first.exited).toEqual({code: 0, signal: null})

    const handedBack = (await queue.getJob(job.id!))!
    expect(await handedBack.getState()).toBe('waiting')
    const resume = (handedBack.data as unknown as {resume: {step: number; iterations: number}}).resume
    expect(resume.iterations).toBe(ITERATIONS)
    expect(resume.step).toBeGreaterThanOrEqual(10)
    expect(resume.step).toBeLessThan(100)
    expect(first.lines.find((l) => l.taskId === job.id && l.msg?.toString().startsWith('task handed back'))).toBeDefined()

    const second = await start()
    await waitFor(() => completedJob(queue, job.id!), {timeoutMs: 120_000, what: 'task finished'})
    const seen = await progress.end()
    const finished = (await queue.getJob(job.id!))!
    expect(await finished.getState()).toBe('completed')
    // Same checksum as an uninterrupted run: the second worker continued the same computation.
    expect(finished.returnvalue).toMatchObject({worker: second.name, resumedFrom: resume.step, checksum: checksum()})
    expectMonotonic([...seen, finished.progress as number])
    expect(finished.progress).toBe(100)
  })

  it('a second SIGTERM a second later hands the task back at once; two at the same moment count as one', async () => {
    newQueue()
    const worker = await start({WORKER_SHUTDOWN_GRACE_MS: '60000'})
    const job = await enqueue(2 * ITERATIONS) // ~4 s: still running a second after the first signal
    await waitFor(async () => (await progressOf(job.id!)) >= 5, {timeoutMs: 90_000, what: 'task under way'})
    worker.child.kill('SIGTERM')
    worker.child.kill('SIGINT') // what Ctrl-C under `keda-lab dev` adds: the same request
    await waitFor(() => worker.lines.some((l) => l.msg === 'stop requested'), {what: 'SIGTERM acknowledged'})
    const first = Date.now()
    // The pair above must not have cut the grace short: the task is still running here.
    await waitFor(() => Date.now() - first > 1200, {what: 'a second to pass', intervalMs: 100})
    expect(await (await queue.getJob(job.id!))!.getState()).toBe('active')
    worker.child.kill('SIGTERM')
    expect(await worker.exited).toEqual({code: 0, signal: null})
    const handedBack = (await queue.getJob(job.id!))!
    expect(await handedBack.getState()).toBe('waiting')
    expect(worker.lines.map((l) => l.msg)).toContain('second signal: handing back the active tasks now')
  })

  it('SIGKILL mid-task: the other worker recovers the stalled task and completes it', async () => {
    newQueue()
    const fast = {WORKER_LOCK_DURATION_MS: '1000', WORKER_STALLED_INTERVAL_MS: '500'}
    const a = await start(fast)
    const b = await start(fast)
    const job = await enqueue()
    const progress = watchProgress(job.id!)
    await waitFor(async () => (await progressOf(job.id!)) >= 5, {timeoutMs: 90_000, what: 'task under way'})
    const runner = (await queue.getJob(job.id!))!.processedBy
    const [victim, survivor] = runner === a.name ? [a, b] : [b, a]
    expect(victim.name).toBe(runner)
    victim.child.kill('SIGKILL')
    expect((await victim.exited).signal).toBe('SIGKILL')

    await waitFor(() => completedJob(queue, job.id!), {timeoutMs: 120_000, what: 'task finished'})
    const seen = await progress.end()
    const finished = (await queue.getJob(job.id!))!
    expect(await finished.getState()).toBe('completed')
    expect(finished.returnvalue).toMatchObject({worker: survivor.name, checksum: checksum()})
    expect(finished.stalledCounter).toBe(1)
    expect(finished.attemptsStarted).toBe(2)
    expect(survivor.lines.some((l) => l.taskId === job.id && l.msg === 'task completed')).toBe(true)
    // The rerun starts at step 1 again but reports no step below what was already reported.
    expectMonotonic([...seen, finished.progress as number])
  })

  it('SIGTERM while Redis is down: no task is running, so it still exits promptly', async () => {
    newQueue()
    const worker = await start({WORKER_SHUTDOWN_GRACE_MS: '300'})
    await redis.kill()
    try {
      await waitFor(() => worker.lines.some((l) => l.msg === 'worker error (it keeps retrying)'), {what: 'Redis loss noticed'})
      worker.child.kill('SIGTERM')
      // "Promptly" as behaviour, with a wide margin: it exits by itself, long before a worker
      // stuck waiting for Redis would (which would never exit); not a measured duration.
      const exit = await Promise.race([
        worker.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still running 30 s after SIGTERM (grace 300 ms)')), 30_000)),
      ])
      expect(exit).toEqual({code: 0, signal: null})
      expect(worker.lines.map((l) => l.msg)).toContain('worker stopped')
    } finally {
      await redis.restart()
    }
  })

  it('a bad variable stops it with one clear line, no stack trace and no password', async () => {
    newQueue()
    const result = await runCli(['serve', 'worker'], {
      env: {WORKER_CONCURRENCY: 'lots', REDIS_PASSWORD: 'hunter2-secret', METRICS_PORT: '0'},
      timeoutMs: 30_000,
    })
    expect(result.code).toBe(78)
    expect(result.stderr.trim().split('\n')).toEqual([
      'Error: WORKER_CONCURRENCY is "lots": must be a whole number from 1 to 64',
      'Fix: set it like WORKER_CONCURRENCY=1',
    ])
    expect(result.stdout + result.stderr).not.toContain('hunter2-secret')
  })
})
