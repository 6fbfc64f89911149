import {z} from 'zod'

import {intVar, logLevelVar} from './env-vars.js'

/**
 * Environment variables shared by every service that talks to Redis.
 * Standalone: REDIS_URL. Sentinel: REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER), which wins over REDIS_URL.
 */
export const redisEnvShape = {
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379')
    .describe('redis://127.0.0.1:6379'),
  REDIS_SENTINELS: z
    .string()
    .regex(/^\s*[^\s:,]+:\d{1,5}\s*(,\s*[^\s:,]+:\d{1,5}\s*)*$/, 'must be a comma-separated list of host:port')
    .optional()
    .describe('redis-sentinel-0:26379,redis-sentinel-1:26379'),
  REDIS_SENTINEL_MASTER: z.string().min(1, 'must not be empty').default('mymaster').describe('mymaster'),
  REDIS_PASSWORD: z.string().min(1, 'must not be empty when set').optional().describe('s3cret'),
  REDIS_SENTINEL_PASSWORD: z.string().min(1, 'must not be empty when set').optional().describe('s3cret'),
  QUEUE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"')
    .default('tasks')
    .describe('tasks'),
  LOG_LEVEL: logLevelVar(),
  // The stronger durability (the API's only): a task is accepted once this many replicas hold it
  // (Redis WAIT), so no failover can lose it; 0 answers as soon as the master has it.
  REDIS_WAIT_REPLICAS: intVar(0, 10, 0),
  REDIS_WAIT_TIMEOUT_MS: intVar(1, 60_000, 1000, 'milliseconds'),
} as const

export type RedisEnv = z.infer<z.ZodObject<typeof redisEnvShape>>

/**
 * Writes that count only once replicas hold them: after a write, WAIT for `replicas`
 * acknowledgements for at most `timeoutMs`; fewer means the write may not survive a failover.
 */
export interface ReplicaAck {
  replicas: number
  timeoutMs: number
}

/** Where Redis is: one server, or a master found through Sentinels; `replicaAck` when set (REDIS_WAIT_REPLICAS > 0). */
export type RedisConfig = (
  | {mode: 'standalone'; url: string; password?: string}
  | {
      mode: 'sentinel'
      sentinels: {host: string; port: number}[]
      masterName: string
      password?: string
      sentinelPassword?: string
    }
) & {replicaAck?: ReplicaAck}

/** Turns the validated variables into a RedisConfig. */
export function redisConfigFromEnv(env: RedisEnv): RedisConfig {
  const replicaAck = env.REDIS_WAIT_REPLICAS > 0 ? {replicaAck: {replicas: env.REDIS_WAIT_REPLICAS, timeoutMs: env.REDIS_WAIT_TIMEOUT_MS}} : {}
  if (env.REDIS_SENTINELS) {
    const sentinels = env.REDIS_SENTINELS.split(',').map((entry) => {
      const [host, port] = entry.trim().split(':') as [string, string]
      return {host, port: Number(port)}
    })
    return {
      mode: 'sentinel',
      sentinels,
      masterName: env.REDIS_SENTINEL_MASTER,
      password: env.REDIS_PASSWORD,
      sentinelPassword: env.REDIS_SENTINEL_PASSWORD,
      ...replicaAck,
    }
  }
  return {mode: 'standalone', url: env.REDIS_URL, password: env.REDIS_PASSWORD, ...replicaAck}
}
