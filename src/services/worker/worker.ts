import {type ConnectionOptions, Worker} from 'bullmq'
import type {RedisOptions} from 'ioredis'
import type {Logger} from 'pino'

import {redisOptions} from '../../adapters/redis.js'
import type {TaskData} from '../shared/tasks.js'
import type {WorkerConfig} from './config.js'
import {createWorkerMetrics, type WorkerMetrics} from './metrics.js'
import {runTaskJob, SHUTDOWN, type TaskOutcome} from './task-job.js'

export type {TaskOutcome} from './task-job.js'

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

/** How long a close may wait for Redis once no task runs any more. */
const CLOSE_WAIT_MS = 2000

/**
 * Logs each distinct error message at most once per `windowMs`: Redis errors repeat while Redis
 * is away (ioredis keeps reconnecting), and an outage must be visible without flooding the logs.
 */
export function throttledErrorLog(logger: Pick<Logger, 'error'>, windowMs: number, now: () => number = Date.now): (error: Error) => void {
  const lastLogged = new Map<string, number>()
  return (error) => {
    const at = now()
    if ((lastLogged.get(error.message) ?? 0) + windowMs > at) return
    lastLogged.set(error.message, at)
    logger.error({reason: error.message}, 'worker error (it keeps retrying)')
  }
}

/**
 * Closes `bull`, which waits for its active tasks. BullMQ's close() also waits for Redis (QUIT,
 * reconnecting the blocking connection), and waits forever while Redis is unreachable. Once no
 * task runs any more there is nothing left to save: if closing has not finished `closeWaitMs`
 * later, the connections are dropped and the close resolves.
 */
export function closeOrDrop(
  bull: Pick<Worker, 'close' | 'disconnect'>,
  running: () => number,
  logger: Pick<Logger, 'warn'>,
  closeWaitMs = CLOSE_WAIT_MS,
): Promise<void> {
  let idleSince: number | undefined
  let watchdog: NodeJS.Timeout | undefined
  const dropped = new Promise<void>((resolve) => {
    watchdog = setInterval(() => {
      if (running() > 0) return
      idleSince ??= Date.now()
      if (Date.now() - idleSince < closeWaitMs) return
      logger.warn('Redis did not answer while closing; dropping the connections')
      clearInterval(watchdog)
      bull.disconnect().catch(() => {})
      resolve()
    }, 100)
  })
  return Promise.race([bull.close(), dropped]).finally(() => clearInterval(watchdog))
}

/**
 * Creates a BullMQ worker for the `long_task` jobs of `config.queueName` (each run by runTaskJob).
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
  const context = {
    config,
    logger,
    metrics,
    running,
    onHandedBack: () => {
      handedBack++
    },
  }

  const bull = new Worker<TaskData, TaskOutcome>(
    config.queueName,
    // Three parameters on purpose: BullMQ passes an AbortSignal only to processors that declare it.
    (job, token, signal) => runTaskJob(job, token, signal, context),
    {
      // ioredis' own option type and BullMQ's copy of it disagree on details only; the values are ioredis'.
      connection: redisOptions(config.redis, options.redisOverrides) as ConnectionOptions,
      name: config.name,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
    },
  )

  bull.on('error', throttledErrorLog(logger, 10_000))
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
        closing = closeOrDrop(bull, () => running.size, logger).finally(() => clearTimeout(timer))
      }
      await closing
      return {handedBack}
    },
    handBackNow,
  }
}
