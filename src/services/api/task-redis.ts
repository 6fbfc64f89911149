import {Redis} from 'ioredis'
import type {Logger} from 'pino'

import {redisOptions} from '../../adapters/redis.js'
import type {RedisConfig} from '../../config/redis.js'
import {ADD_TASKS_LUA, type BriefTaskViewReply, TASK_VIEW_LUA, type TaskViewReply} from './task-scripts.js'

/** Redis cannot be reached right now (down, failing over, or too slow): the API answers 503. */
export class RedisUnavailableError extends Error {
  constructor(message = 'Redis is unavailable', options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'RedisUnavailableError'
  }
}

/** The API's Redis connection, with keda-lab's task scripts defined on it. */
export interface RedisWithScripts extends Redis {
  kedaLabTaskView(numberOfKeys: number, ...args: (string | number)[]): Promise<(TaskViewReply | BriefTaskViewReply)[]>
  kedaLabAddTasks(numberOfKeys: number, ...args: (string | number)[]): Promise<number>
}

/** What connectTaskRedis needs. */
export interface TaskRedisOptions {
  redis: RedisConfig
  /** Upper bound of any command before it fails (then the request answers 503). */
  timeoutMs: number
  /** Named in the connection's log lines. */
  queueName: string
  logger?: Logger
}

/** The connection and a way to say it is being closed on purpose (no "connection lost" warning then). */
export interface TaskRedis {
  client: RedisWithScripts
  markClosing(): void
}

/**
 * The API's own Redis connection, built to fail fast: no offline queue, one retry per command
 * and a time limit on every operation, so that a request answers 503 at once while Redis is down
 * instead of hanging; ioredis keeps reconnecting (and, with Sentinels, finds the new master after
 * a failover) so the API recovers by itself. Logs when the connection comes and goes.
 */
export function connectTaskRedis(options: TaskRedisOptions): TaskRedis {
  const log = options.logger
  const client = new Redis(
    redisOptions(options.redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Every command (BullMQ's scripts included) gives up after this: the request answers 503.
      commandTimeout: options.timeoutMs,
      // The hot paths batch their own calls (batch.ts), one script call per event-loop round;
      // auto-pipelining measured slower here (npm run bench, with queue.add: 0.39x of the LPUSH
      // baseline with it, 0.57x without).
      enableAutoPipelining: false,
      connectTimeout: 2000,
      // Reconnect quickly: the API is useless without Redis, and a failover takes seconds.
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
      // A write refused by a demoted master: reconnect so that Sentinel names the new one.
      reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
    }),
  ) as RedisWithScripts
  // No fixed key count: a batch passes as many keys as it has tasks.
  client.defineCommand('kedaLabTaskView', {lua: TASK_VIEW_LUA})
  client.defineCommand('kedaLabAddTasks', {lua: ADD_TASKS_LUA})

  let wasReady = false
  let closing = false
  client.on('ready', () => {
    wasReady = true
    log?.info({queue: options.queueName}, 'Redis connection ready')
  })
  client.on('close', () => {
    if (wasReady && !closing) log?.warn({queue: options.queueName}, 'Redis connection lost; reconnecting')
    wasReady = false
  })
  // ioredis reports each failed reconnect as an error; the state changes above are what matters.
  client.on('error', (error) => log?.debug({err: error.message}, 'Redis connection error'))
  return {
    client,
    markClosing: () => {
      closing = true
    },
  }
}

const CONNECTION_ERROR =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|READONLY|LOADING|MASTERDOWN|MaxRetriesPerRequest|All sentinels are unreachable/

/**
 * What a failed Redis operation becomes: RedisUnavailableError (503) when Redis timed out, is not
 * connected or failed as a connection fails; any other error (a bug, a script error) unchanged.
 * `status` is the connection's status after the failure.
 */
export function redisFailure(error: unknown, context: {what: string; status: string; timeoutMs: number}): unknown {
  const message = error instanceof Error ? `${error.name} ${error.message}` : String(error)
  if (message.includes('Command timed out')) {
    return new RedisUnavailableError(`Redis did not answer within ${context.timeoutMs} ms (${context.what})`, {cause: error})
  }
  if (context.status !== 'ready' || CONNECTION_ERROR.test(message)) {
    return new RedisUnavailableError(`Redis failed (${context.what}): ${error instanceof Error ? error.message : message}`, {cause: error})
  }
  return error
}

/** Runs one Redis operation, failing fast with RedisUnavailableError while Redis is not connected. */
export type Guarded = <T>(what: string, operation: () => Promise<T>) => Promise<T>

/** The guard of the operations on `client` (see redisFailure). */
export function guardRedis(client: Pick<Redis, 'status'>, timeoutMs: number): Guarded {
  return async (what, operation) => {
    if (client.status !== 'ready') throw new RedisUnavailableError(`Redis is not connected (${what})`)
    try {
      return await operation()
    } catch (error) {
      throw redisFailure(error, {what, status: client.status, timeoutMs})
    }
  }
}
