import {z} from 'zod'

import {type RedisConfig, redisConfigFromEnv, redisEnvShape} from '../../config/redis.js'
import {hostVar, intVar, portVar} from '../../config/env-vars.js'
import {parseEnv} from '../../config/parse-env.js'
import {DEFAULT_TASK_ITERATIONS, MAX_TASK_ITERATIONS} from '../shared/tasks.js'

/**
 * The API's environment: its own variables plus the shared Redis ones. Each field's
 * `.describe()` is the example parseEnv prints when the value is wrong.
 */
export const apiEnvSchema = z
  .object({
    ...redisEnvShape,
    PORT: portVar(8000),
    METRICS_PORT: portVar(9001),
    HOST: hostVar(),
    TASK_ITERATIONS: intVar(0, MAX_TASK_ITERATIONS, DEFAULT_TASK_ITERATIONS),
    TASK_MAX_ITERATIONS: intVar(0, MAX_TASK_ITERATIONS, MAX_TASK_ITERATIONS),
    TASK_ATTEMPTS: intVar(1, 100, 1),
    TASK_RETENTION_SECONDS: intVar(1, 365 * 24 * 3600, 86_400),
  })
  .superRefine((env, ctx) => {
    if (env.TASK_ITERATIONS > env.TASK_MAX_ITERATIONS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_ITERATIONS'],
        message: `must not exceed TASK_MAX_ITERATIONS (${env.TASK_MAX_ITERATIONS})`,
      })
    }
    if (env.PORT === env.METRICS_PORT) {
      ctx.addIssue({code: 'custom', path: ['METRICS_PORT'], message: `must differ from PORT (${env.PORT})`})
    }
  })

/** Everything the API needs, validated. Holds the Redis password: never log it whole. */
export interface ApiConfig {
  host: string
  port: number
  metricsPort: number
  queueName: string
  logLevel: string
  redis: RedisConfig
  task: {
    /** Size of a task queued without an explicit size (both APIs). */
    defaultIterations: number
    /** Largest size a request may ask for. */
    maxIterations: number
    /** BullMQ attempts per task (1 = no retry). */
    attempts: number
    /** How long finished tasks stay queryable. */
    retentionSeconds: number
  }
}

/** Validates `env` and builds the API configuration; throws a one-line ConfigError. */
export function loadApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const parsed = parseEnv(apiEnvSchema, env)
  return {
    host: parsed.HOST,
    port: parsed.PORT,
    metricsPort: parsed.METRICS_PORT,
    queueName: parsed.QUEUE_NAME,
    logLevel: parsed.LOG_LEVEL,
    redis: redisConfigFromEnv(parsed),
    task: {
      defaultIterations: parsed.TASK_ITERATIONS,
      maxIterations: parsed.TASK_MAX_ITERATIONS,
      attempts: parsed.TASK_ATTEMPTS,
      retentionSeconds: parsed.TASK_RETENTION_SECONDS,
    },
  }
}
