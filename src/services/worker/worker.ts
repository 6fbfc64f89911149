import {type ConnectionOptions, type Job, UnrecoverableError, WaitingError, Worker} from 'bullmq'
import type {RedisOptions} from 'ioredis'
import type {Logger} from 'pino'

import {redisOptions} from '../../adapters/redis.js'
import {TASK_JOB_NAME, TASK_STEPS, type TaskData} from '../shared/tasks.js'
import type {WorkerConfig} from './config.js'
import {createWorkerMetrics, type TaskResult, type WorkerMetrics} from './metrics.js'
import {InvalidTaskDataError, parseTaskData, RESUME_KEY} from './task-data.js'
import {runTask} from './work.js'

/** What a completed task returns (BullMQ stores it as the job's return value). */
export interface TaskOutcome {
  /** Final state of the task's hash chain: depends only on the size, so it proves the work was done. */
  checksum: number
  iterations: number
  steps: number
  /** Name of the worker that finished the task. */
  worker: string
  /** Step the final attempt started from (0 unless it resumed a handed-back task). */
  resumedFrom: number
  /** Time the final attempt ran, in milliseconds. */
  durationMs: number
}

/** What createWorker needs: the validated configuration, a logger, and optionally metrics. */
export interface CreateWorkerOptions {
  config: Pick<
    WorkerConfig,
    'redis' | 'queueName' | 'concurrency' | 'defaultIterations' | 'lockDurationMs' | 'stalledIntervalMs' | 'maxStalledCount' | 'shutdownGraceMs' | 'name'
  >
  logger: Logger
  /** Metrics to record into; a fresh set (own registry) when omitted. */
  metrics?: WorkerMetrics
  /** Extra ioredis options (tests); never needed in production. */
  redisOverrides?: Partial<RedisOptions>
}

/** A running task worker. */
export interface TaskWorker {
  /** The BullMQ worker, for events (`active`, `completed`, `failed`, `stalled`). */
  readonly bull: Worker<TaskData, TaskOutcome>
  readonly metrics: WorkerMetrics
  /** Tasks running in this worker now. */
  active(): number
  /** Resolves once the worker is connected and taking jobs. */
  waitUntilReady(): Promise<void>
  /**
   * Graceful stop: take no new task, let the active ones finish for up to `graceMs`
   * (default: the configured grace), then hand back what still runs, with a checkpoint, so
   * another worker resumes it. Resolves when the worker is closed. Safe to call twice.
   */
  shutdown(graceMs?: number): Promise<{handedBack: number}>
  /** Hands back the active tasks now (e.g. on a second SIGTERM/SIGINT). */
  handBackNow(): void
}

const SHUTDOWN = 'shutdown'

/** How long a close may wait for Redis once no task runs any more. */
const CLOSE_WAIT_MS = 2000

/**
 * Creates a BullMQ worker for the `long_task` jobs of `config.queueName`.
 *
 * Lock renewal and CPU work share one thread: the task yields to the event loop every 20 ms
 * (see runTask), so BullMQ's lock-renewal timer always runs in time. No worker thread is used:
 * an empty task then costs only BullMQ's own Redis round trips, which the benchmark needs.
 */
export function createWorker(options: CreateWorkerOptions): TaskWorker {
  const {config, logger} = options
  const metrics = options.metrics ?? createWorkerMetrics({concurrency: config.concurrency})
  const running = new Set<string>()
  let handedBack = 0
  let closing: Promise<void> | undefined

  const record = (result: TaskResult, startedAt: number) => {
    metrics.processed.inc({result})
    metrics.duration.observe({result}, (performance.now() - startedAt) / 1000)
  }

  // Three parameters on purpose: BullMQ passes an AbortSignal only to processors that declare it.
  const processor = async (job: Job<TaskData, TaskOutcome>, token: string | undefined, signal: AbortSignal | undefined) => {
    // BullMQ gives every job it hands out an id; a job without one could not be tracked or handed back.
    const taskId = job.id
    if (taskId === undefined) throw new UnrecoverableError('a job without an id reached the worker')
    const log = logger.child({taskId})
    if (job.name !== TASK_JOB_NAME) throw new UnrecoverableError(`unknown job name "${job.name}": this worker runs "${TASK_JOB_NAME}"`)
    let input: ReturnType<typeof parseTaskData>
    try {
      input = parseTaskData(job.data, config.defaultIterations)
    } catch (error) {
      if (error instanceof InvalidTaskDataError) {
        log.error({reason: error.message}, 'task rejected')
        throw new UnrecoverableError(error.message)
      }
      throw error
    }
    const startedAt = performance.now()
    if (job.attemptsStarted <= 1 && !input.resume) metrics.wait.observe(Math.max(0, Date.now() - job.timestamp) / 1000)
    running.add(taskId)
    metrics.busy.inc()
    const resumedFrom = input.resume?.step ?? 0
    log.info({attempt: job.attemptsStarted, iterations: input.iterations, resumedFrom}, 'task started')
    // Progress only moves forward: a task run again after a crash does not report steps it
    // already reported; a client polling it never sees the percentage go back.
    let reported = typeof job.progress === 'number' ? job.progress : 0
    try {
      const result = await runTask({
        iterations: input.iterations,
        failAt: input.failAt,
        from: input.resume,
        signal,
        async onStep(step) {
          if (step > reported) {
            reported = step
            await job.updateProgress(step)
          }
        },
      })
      if (result.status === 'interrupted') {
        if (signal?.reason !== SHUTDOWN) throw new Error(`task stopped at step ${result.checkpoint.step}: ${String(signal?.reason)}`)
        // Logged before the job is released: once it is back in `wait` another worker may start it
        // at once, and the execution record (these lines) must show this run ended first.
        log.info({step: result.checkpoint.step}, 'task interrupted for shutdown; handing it back')
        // Leave a checkpoint in the job's data, then put the job back in `wait` on the side
        // workers take from (BullMQ's moveJobFromActiveToWait RPUSHes, new jobs are LPUSHed), so
        // it is the next task any worker picks up. WaitingError tells BullMQ the job has been
        // moved and must not be failed.
        await job.updateData({...job.data, [RESUME_KEY]: {iterations: input.iterations, ...result.checkpoint}} as TaskData)
        await job.moveToWait(token)
        handedBack++
        record('handed_back', startedAt)
        log.warn({step: result.checkpoint.step}, 'task handed back at shutdown; another worker resumes it from this step')
        throw new WaitingError()
      }
      const durationMs = Math.round(performance.now() - startedAt)
      record('completed', startedAt)
      log.info({durationMs, attempt: job.attemptsStarted, checksum: result.checksum}, 'task completed')
      return {checksum: result.checksum, iterations: input.iterations, steps: TASK_STEPS, worker: config.name, resumedFrom, durationMs}
    } catch (error) {
      if (error instanceof WaitingError) throw error
      record('failed', startedAt)
      const reason = error instanceof Error ? error.message : String(error)
      log.error({reason, progress: reported, attempt: job.attemptsStarted}, 'task failed')
      throw error
    } finally {
      running.delete(taskId)
      metrics.busy.dec()
    }
  }

  const bull = new Worker<TaskData, TaskOutcome>(config.queueName, processor, {
    // ioredis' own option type and BullMQ's copy of it disagree on details only; the values are ioredis'.
    connection: redisOptions(config.redis, options.redisOverrides) as ConnectionOptions,
    name: config.name,
    concurrency: config.concurrency,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  })

  // Redis errors repeat while Redis is away (ioredis keeps reconnecting); log each distinct one
  // once per 10 s so that an outage is visible without flooding the logs.
  const lastLogged = new Map<string, number>()
  bull.on('error', (error) => {
    const now = Date.now()
    if ((lastLogged.get(error.message) ?? 0) + 10_000 > now) return
    lastLogged.set(error.message, now)
    logger.error({reason: error.message}, 'worker error (it keeps retrying)')
  })
  bull.on('stalled', (jobId) => logger.warn({taskId: jobId}, 'task stalled (its worker stopped renewing the lock); it runs again'))
  // A lock that could not be renewed means another worker may run the task: stop this copy.
  bull.on('lockRenewalFailed', (jobIds) => {
    for (const id of jobIds) bull.cancelJob(id, 'lock lost (another worker may be running this task)')
  })

  const handBackNow = () => {
    if (running.size > 0) {
      logger.warn({active: running.size}, 'handing back the active tasks')
      bull.cancelAllJobs(SHUTDOWN)
    }
  }

  return {
    bull,
    metrics,
    active: () => running.size,
    waitUntilReady: () => bull.waitUntilReady().then(() => undefined),
    async shutdown(graceMs = config.shutdownGraceMs) {
      if (!closing) {
        logger.info({active: running.size, graceMs}, 'shutting down: taking no new tasks, letting the active ones finish')
        const timer = setTimeout(handBackNow, graceMs)
        // BullMQ's close() waits for Redis (QUIT, reconnecting the blocking connection), and
        // waits forever while Redis is unreachable. Once no task runs any more there is nothing
        // left to save: if closing has not finished 2 s later, drop the connections and stop.
        let idleSince: number | undefined
        let watchdog: NodeJS.Timeout | undefined
        const dropped = new Promise<void>((resolve) => {
          watchdog = setInterval(() => {
            if (running.size > 0) return
            idleSince ??= Date.now()
            if (Date.now() - idleSince < CLOSE_WAIT_MS) return
            logger.warn('Redis did not answer while closing; dropping the connections')
            clearInterval(watchdog)
            bull.disconnect().catch(() => {})
            resolve()
          }, 100)
        })
        closing = Promise.race([bull.close(), dropped]).finally(() => {
          clearTimeout(timer)
          clearInterval(watchdog)
        })
      }
      await closing
      return {handedBack}
    },
    handBackNow,
  }
}
