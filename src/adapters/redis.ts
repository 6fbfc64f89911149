import type {RedisOptions} from 'ioredis'

import type {RedisConfig} from '../config/redis.js'

/**
 * ioredis options for a RedisConfig. In Sentinel mode ioredis asks the Sentinels for the
 * current master and, after a failover, reconnects to the new one (`failoverDetector`).
 * `maxRetriesPerRequest: null` is what BullMQ requires for blocking connections; callers
 * that must fail fast (the API answering 503) override it.
 */
export function redisOptions(config: RedisConfig, overrides: Partial<RedisOptions> = {}): RedisOptions {
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    // RESP2 keeps us compatible with Redis 6/7 servers and Sentinels alike.
    protocol: 2,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    ...overrides,
  } as RedisOptions
  if (config.mode === 'sentinel') {
    return {
      ...common,
      sentinels: config.sentinels,
      name: config.masterName,
      password: config.password,
      sentinelPassword: config.sentinelPassword,
      failoverDetector: true,
      ...overrides,
    } as RedisOptions
  }
  const url = new URL(config.url)
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0
  return {
    ...common,
    host: url.hostname,
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: config.password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    db: Number.isFinite(db) ? db : 0,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    ...overrides,
  } as RedisOptions
}

/** Describes where Redis is without any password, for logs. */
export function describeRedis(config: RedisConfig): string {
  if (config.mode === 'sentinel') {
    return `sentinel master "${config.masterName}" via ${config.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
  }
  const url = new URL(config.url)
  url.password = ''
  url.username = ''
  return url.toString()
}
