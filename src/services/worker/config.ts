import {hostname} from 'node:os'

import {z} from 'zod'

import {hostVar} from '../../config/env-vars.js'
import {parseEnv} from '../../config/parse-env.js'
import {type RedisConfig, redisConfigFromEnv, redisEnvShape} from '../../config/redis.js'
import {DEFAULT_TASK_ITERATIONS, MAX_TASK_ITERATIONS} from '../shared/tasks.js'

/** A whole-number environment variable within [min, max], with a default and an example for the error line. */
function intVar(min: number, max: number, fallback: number, example = String(fallback)) {
  return z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .default(fallback)
    .describe(example)
}

/**
 * The worker's environment. Task attempts and backoff are not here: they are job options the
 * API sets when it enqueues (TASK_ATTEMPTS), so one setting governs every worker.
 */
export const workerEnvSchema = z.object({
  ...redisEnvShape,
  // The cluster scales pods, not threads: one task at a time per worker unless asked otherwise.
  WORKER_CONCURRENCY: intVar(1, 64, 1),
  // 0 picks a free port (handy for several local workers); the port in use is logged.
  METRICS_PORT: intVar(0, 65_535, 9002),
  METRICS_HOST: hostVar(),
  // Size used for a job that carries no `iterations` (e.g. from an older producer).
  TASK_ITERATIONS: intVar(0, MAX_TASK_ITERATIONS, DEFAULT_TASK_ITERATIONS),
  WORKER_LOCK_DURATION_MS: intVar(200, 600_000, 30_000),
  WORKER_STALLED_INTERVAL_MS: intVar(100, 600_000, 30_000),
  WORKER_MAX_STALLED_COUNT: intVar(0, 100, 1),
  // Below Kubernetes' default terminationGracePeriodSeconds (30 s); the chart gives more.
  WORKER_SHUTDOWN_GRACE_MS: intVar(0, 3_600_000, 25_000),
  WORKER_NAME: z
    .string()
    .trim()
    .regex(/^[\w.:-]{1,128}$/, 'must be 1-128 letters, digits, ".", ":", "-" or "_"')
    .optional()
    .describe('worker-0'),
})

/** Everything createWorker and main need, validated and typed. */
export interface WorkerConfig {
  redis: RedisConfig
  queueName: string
  logLevel: string
  concurrency: number
  metricsPort: number
  metricsHost: string
  defaultIterations: number
  lockDurationMs: number
  stalledIntervalMs: number
  maxStalledCount: number
  shutdownGraceMs: number
  /** Recorded on every job this worker processes (BullMQ's `processedBy`). */
  name: string
}

/** Reads and validates the worker's environment; a bad value throws one ConfigError line. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const parsed = parseEnv(workerEnvSchema, env)
  return {
    redis: redisConfigFromEnv(parsed),
    queueName: parsed.QUEUE_NAME,
    logLevel: parsed.LOG_LEVEL,
    concurrency: parsed.WORKER_CONCURRENCY,
    metricsPort: parsed.METRICS_PORT,
    metricsHost: parsed.METRICS_HOST,
    defaultIterations: parsed.TASK_ITERATIONS,
    lockDurationMs: parsed.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: parsed.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: parsed.WORKER_MAX_STALLED_COUNT,
    shutdownGraceMs: parsed.WORKER_SHUTDOWN_GRACE_MS,
    // In a pod the hostname is the pod name; the pid tells apart workers that `keda-lab dev` runs side by side.
    name: parsed.WORKER_NAME ?? `${hostname()}-${process.pid}`,
  }
}
