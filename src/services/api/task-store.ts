import {randomUUID} from 'node:crypto'

import {Queue} from 'bullmq'
import {Redis} from 'ioredis'
import type {Logger} from 'pino'

import {redisOptions} from '../../adapters/redis.js'
import type {RedisConfig} from '../../config/redis.js'
import {isoNow} from '../shared/clock.js'
import {TASK_JOB_NAME, type TaskData} from '../shared/tasks.js'
import {batched} from './batch.js'
import {type TaskSnapshot, taskStatus} from './task-view.js'

/** Redis cannot be reached right now (down, failing over, or too slow): the API answers 503. */
export class RedisUnavailableError extends Error {
  constructor(message = 'Redis is unavailable', options?: {cause?: unknown}) {
    super(message, options)
    this.name = 'RedisUnavailableError'
  }
}

/** Job counts per BullMQ state (a paused queue keeps its jobs in `waiting` in BullMQ 6), as `GET /api/queue` and the queue-depth gauge report them. */
export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  prioritized: number
  'waiting-children': number
  completed: number
  failed: number
}

/** The states counted in QueueCounts, in a stable order. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const

/** Outcome of `DELETE /api/tasks/:id`. */
export type CancelOutcome = {outcome: 'cancelled'} | {outcome: 'not-found'} | {outcome: 'conflict'; reason: 'processing' | 'finished'; status: string}

/** The API's view of the task queue: every operation fails fast with RedisUnavailableError. */
export interface TaskStore {
  readonly queueName: string
  /**
   * Queues a task of `iterations` and returns its id (a random UUID, used as the BullMQ job id).
   * `failAt` (1..100) makes the worker fail it on purpose at that step: the documented way to
   * demonstrate the task-failure alert and retries.
   */
  enqueue(input: {iterations: number; failAt?: number}): Promise<string>
  /** Reads one task atomically, with monotonic progress and elapsed time; undefined if unknown. */
  get(id: string): Promise<TaskSnapshot | undefined>
  /** The same atomic, monotonic read returning only state, progress and elapsed time (the status route's hot path). */
  getProgress(id: string): Promise<Pick<TaskSnapshot, 'state' | 'progress' | 'elapsedMs'> | undefined>
  /**
   * Cancels a queued task, which then reads as `cancelled` for the retention time (cancelling it
   * again is the same success); a running or finished one is a conflict.
   */
  cancel(id: string): Promise<CancelOutcome>
  counts(): Promise<QueueCounts>
  /** Workers currently connected to the queue. */
  workers(): Promise<number>
  /** Round trip to Redis (PING); throws RedisUnavailableError. */
  ping(): Promise<void>
  /** Whether the connection is up right now. */
  isReady(): boolean
  close(): Promise<void>
}

/** Options of createTaskStore. */
export interface TaskStoreOptions {
  redis: RedisConfig
  queueName: string
  /** BullMQ attempts per task. */
  attempts: number
  /** Finished tasks are removed after this many seconds. */
  retentionSeconds: number
  /** Upper bound of any Redis operation before answering 503 (default 2000 ms). */
  commandTimeoutMs?: number
  logger?: Logger
}

/**
 * One atomic read of a task, so that state, progress and timestamps belong together, in one
 * round trip (the status route is the hot path a client polls).
 *
 * Monotonicity: a retry or a stalled-job recovery restarts a task (BullMQ moves it back to
 * `wait`, the next attempt overwrites `processedOn` and reports progress from 0 again), and
 * the workers' and API replicas' clocks differ a little. So the script keeps, per task, the
 * highest progress and elapsed time it has returned (a small hash with a TTL) and never returns
 * less: elapsed counts from the first start and keeps running across a retry; progress holds
 * its high-water mark until the new attempt passes it.
 *
 * The state test reads the job hash first and asks the queue's sets only what it cannot tell:
 * BullMQ sets `processedOn` in the same script that moves a job to active, and `finishedOn` only
 * when it completes or fails for good. So a job never started is queued (waiting, delayed or
 * prioritized: all "Queued") with no further command, a finished one needs one ZSCORE, and a
 * started one is active when its lock (or, while a stalled job waits for recovery, the short
 * active list) holds it, else waiting for a retry. Unlike BullMQ's getState it never scans the
 * O(n) wait list, so polling stays cheap however long the queue is.
 *
 * A cancelled task's job is gone (BullMQ removes it); cancel() leaves its queued time, data and
 * options in the high-water hash (fields c = cancelled at, t, d, o), read only when the job is
 * missing, so that the task reads `cancelled` rather than unknown until its retention ends.
 *
 * The script reads a batch of tasks (see batch.ts: the polls of one event-loop round share one
 * call); each task's read is the same as alone.
 * KEYS: 1 completed, 2 failed, 3 active, then per task: job hash, job lock, high-water hash
 * ARGV: 1 now (ms), 2 high-water TTL (ms), then per task: job id, "1" for a brief reply (what the
 * original status route polls: "<state> <progress> <elapsed>", one string to decode instead of twelve)
 * Reply: per task, false (unknown), the brief string, or the fields.
 */
const TASK_VIEW_LUA = `
local now = tonumber(ARGV[1])
local function view(jobKey, lockKey, hwKey, id, brief)
  local f
  if brief then
    f = redis.call('HMGET', jobKey, 'timestamp', 'processedOn', 'finishedOn', 'progress')
  else
    f = redis.call('HMGET', jobKey, 'timestamp', 'processedOn', 'finishedOn', 'progress', 'atm', 'ats', 'failedReason', 'returnvalue', 'data', 'opts')
  end
  if not f[1] then
    local c = redis.call('HMGET', hwKey, 'c', 't', 'd', 'o')
    if not c[1] then return false end
    if brief then return 'cancelled 0 0' end
    return {'cancelled', '0', '0', c[2] or '0', '', c[1], '0', '0', '', '', c[3] or '', c[4] or ''}
  end
  local processedOn = tonumber(f[2])
  local finishedOn = tonumber(f[3])
  local state = 'waiting'
  if finishedOn and redis.call('ZSCORE', KEYS[1], id) then state = 'completed'
  elseif finishedOn and redis.call('ZSCORE', KEYS[2], id) then state = 'failed'
  elseif processedOn and (redis.call('EXISTS', lockKey) == 1 or redis.call('LPOS', KEYS[3], id)) then state = 'active'
  end
  local finished = state == 'completed' or state == 'failed'
  local progress = tonumber(f[4]) or 0
  if progress < 0 then progress = 0 end
  if progress > 100 then progress = 100 end
  if state == 'completed' then progress = 100 end
  local elapsed = 0
  if processedOn then
    local stop = now
    if finished and finishedOn then stop = finishedOn end
    elapsed = math.max(0, stop - processedOn)
    local hw = redis.call('HMGET', hwKey, 'p', 'e', 'at')
    local hp, he, hat = tonumber(hw[1]), tonumber(hw[2]), tonumber(hw[3])
    if hp and hp > progress then progress = hp end
    if he then
      if finished then
        elapsed = math.max(elapsed, he)
      else
        elapsed = math.max(elapsed, he + math.max(0, now - hat))
      end
    end
    if not finished then
      redis.call('HSET', hwKey, 'p', progress, 'e', elapsed, 'at', now)
      redis.call('PEXPIRE', hwKey, ARGV[2])
    end
  end
  if brief then return state .. ' ' .. progress .. ' ' .. elapsed end
  return {state, tostring(progress), tostring(elapsed), f[1], f[2] or '', f[3] or '', f[5] or '0', f[6] or '0', f[7] or '', f[8] or '', f[9] or '', f[10] or ''}
end
local replies = {}
for i = 1, (#KEYS - 3) / 3 do
  local k = 3 * i + 1
  replies[i] = view(KEYS[k], KEYS[k + 1], KEYS[k + 2], ARGV[2 * i + 1], ARGV[2 * i + 2] == '1')
end
return replies
`

/**
 * Adds a batch of tasks as BullMQ jobs, writing exactly what BullMQ's own add (its
 * addStandardJob script, for a job with an id, no parent, no delay, no priority) writes: the job
 * hash, the "added" and "waiting" events, the id counter, the job id on the wait list and the
 * marker that wakes the workers (none while the queue is paused or at its global concurrency).
 * queue.add costs twice the CPU per task on both sides (it builds a Job object, packs its
 * arguments with msgpack for a script that handles every kind of job), and it takes one task per
 * call. test/integration/task-store-bullmq.test.ts pins that both leave Redis in the same state,
 * so a BullMQ upgrade that changes its layout fails there.
 *
 * Nothing is written if any id exists already (BullMQ would answer that job instead of the task).
 * KEYS: 1 wait, 2 meta, 3 id counter, 4 active, 5 events, 6 marker, then per task: job hash
 * ARGV: 1 job name, then per task: job id, data (JSON), opts (JSON), timestamp (ms)
 * Reply: the number of tasks added, or an error naming the existing id.
 */
const ADD_TASKS_LUA = `
local n = #KEYS - 6
for i = 1, n do
  if redis.call('EXISTS', KEYS[6 + i]) == 1 then return redis.error_reply('job ' .. ARGV[4 * i - 2] .. ' exists already') end
end
local maxEvents = redis.call('HGET', KEYS[2], 'opts.maxLenEvents')
if not maxEvents then
  maxEvents = 10000
  redis.call('HSET', KEYS[2], 'opts.maxLenEvents', maxEvents)
end
local meta = redis.call('HMGET', KEYS[2], 'paused', 'concurrency')
local held = meta[1] ~= false
if not held and meta[2] then held = redis.call('LLEN', KEYS[4]) >= tonumber(meta[2]) end
for i = 1, n do
  local id = ARGV[4 * i - 2]
  redis.call('INCR', KEYS[3])
  redis.call('HMSET', KEYS[6 + i], 'name', ARGV[1], 'data', ARGV[4 * i - 1], 'opts', ARGV[4 * i], 'timestamp', ARGV[4 * i + 1], 'delay', 0, 'priority', 0)
  redis.call('XADD', KEYS[5], '*', 'event', 'added', 'jobId', id, 'name', ARGV[1])
  redis.call('LPUSH', KEYS[1], id)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id)
end
if not held then redis.call('ZADD', KEYS[6], 0, '0') end
return n
`

type TaskViewReply = [string, string, string, string, string, string, string, string, string, string, string, string] | null
type BriefTaskViewReply = string | null

interface RedisWithScripts extends Redis {
  kedaLabTaskView(numberOfKeys: number, ...args: (string | number)[]): Promise<(TaskViewReply | BriefTaskViewReply)[]>
  kedaLabAddTasks(numberOfKeys: number, ...args: (string | number)[]): Promise<number>
}

const CONNECTION_ERROR =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|READONLY|LOADING|MASTERDOWN|MaxRetriesPerRequest|All sentinels are unreachable/

function parseJson(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const optionalNumber = (text: string): number | undefined => (text === '' ? undefined : Number(text))

/** Turns the script's reply into a TaskSnapshot (exported for tests). */
export function snapshotFromReply(id: string, reply: NonNullable<TaskViewReply>): TaskSnapshot {
  const [state, progress, elapsed, timestamp, processedOn, finishedOn, atm, ats, failedReason, returnvalue, data, opts] = reply
  const taskData = parseJson(data) as Partial<TaskData> | undefined
  const jobOpts = parseJson(opts) as {attempts?: number} | undefined
  return {
    id,
    state,
    progress: Number(progress),
    elapsedMs: Number(elapsed),
    queuedAt: Number(timestamp),
    startedAt: optionalNumber(processedOn),
    finishedAt: optionalNumber(finishedOn),
    attemptsMade: Number(atm) || 0,
    attemptsStarted: Number(ats) || 0,
    maxAttempts: typeof jobOpts?.attempts === 'number' ? jobOpts.attempts : 1,
    iterations: typeof taskData?.iterations === 'number' ? taskData.iterations : undefined,
    failedReason: failedReason || undefined,
    result: parseJson(returnvalue),
  }
}

/**
 * The API's BullMQ queue on its own Redis connection, built to fail fast: no offline queue,
 * one retry per command and a time limit on every operation, so that a request answers 503
 * at once while Redis is down instead of hanging; ioredis keeps reconnecting (and, with
 * Sentinels, finds the new master after a failover) so the API recovers by itself.
 */
export function createTaskStore(options: TaskStoreOptions): TaskStore {
  const timeoutMs = options.commandTimeoutMs ?? 2000
  const log = options.logger
  const client = new Redis(
    redisOptions(options.redis, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // Every command (BullMQ's scripts included) gives up after this: the request answers 503.
      commandTimeout: timeoutMs,
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

  const queue = new Queue<TaskData>(options.queueName, {connection: client})
  queue.on('error', (error) => log?.debug({err: error.message}, 'queue error'))

  const highWaterTtlMs = (options.retentionSeconds + 3600) * 1000
  const highWaterKey = (id: string) => `keda-lab:${options.queueName}:task-view:${id}`

  async function guarded<T>(what: string, operation: () => Promise<T>): Promise<T> {
    if (client.status !== 'ready') throw new RedisUnavailableError(`Redis is not connected (${what})`)
    try {
      return await operation()
    } catch (error) {
      const message = error instanceof Error ? `${error.name} ${error.message}` : String(error)
      if (message.includes('Command timed out')) {
        throw new RedisUnavailableError(`Redis did not answer within ${timeoutMs} ms (${what})`, {cause: error})
      }
      if (client.status !== 'ready' || CONNECTION_ERROR.test(message)) {
        throw new RedisUnavailableError(`Redis failed (${what}): ${error instanceof Error ? error.message : message}`, {cause: error})
      }
      throw error
    }
  }

  // The reads of one event-loop round: one script call (batch.ts).
  const readTasks = batched<{id: string; brief: boolean}, TaskViewReply | BriefTaskViewReply>((reads) => {
    const keys = [queue.toKey('completed'), queue.toKey('failed'), queue.toKey('active')]
    const args: (string | number)[] = [Date.now(), highWaterTtlMs]
    for (const {id, brief} of reads) {
      const jobKey = queue.toKey(id)
      keys.push(jobKey, `${jobKey}:lock`, highWaterKey(id))
      args.push(id, brief ? '1' : '0')
    }
    return guarded('read task', () => client.kedaLabTaskView(keys.length, ...keys, ...args))
  })

  async function get(id: string): Promise<TaskSnapshot | undefined> {
    const reply = (await readTasks({id, brief: false})) as TaskViewReply
    return reply ? snapshotFromReply(id, reply) : undefined
  }

  // What BullMQ stores as the job's options: the same for every task but its id (a UUID, which
  // needs no JSON escaping), so the text around the id is serialized once.
  const [optionsHead, optionsTail] = JSON.stringify({
    attempts: options.attempts,
    // A retry waits 1 s, 2 s, 4 s…: an immediate one would hit the same transient cause.
    backoff: {delay: 1000, type: 'exponential'},
    jobId: '{id}',
    removeOnComplete: {age: options.retentionSeconds},
    removeOnFail: {age: options.retentionSeconds},
  }).split('{id}') as [string, string]
  const jobOptions = (id: string) => optionsHead + id + optionsTail

  // The tasks queued in one event-loop round: one script call, and one WAIT for all of them.
  const addTasks = batched<{id: string; data: TaskData}, void>(async (tasks) => {
    const keys = [queue.toKey('wait'), queue.toKey('meta'), queue.toKey('id'), queue.toKey('active'), queue.toKey('events'), queue.toKey('marker')]
    const args: (string | number)[] = [TASK_JOB_NAME]
    const now = Date.now()
    for (const {id, data} of tasks) {
      keys.push(queue.toKey(id))
      args.push(id, JSON.stringify(data), jobOptions(id), now)
    }
    await guarded('queue task', () => client.kedaLabAddTasks(keys.length, ...keys, ...args))
    // REDIS_WAIT_REPLICAS: accepted only once replicas hold the tasks, so a failover cannot lose
    // them (a 503 here may leave a task queued: the client's retry then queues a second one).
    const ack = options.redis.replicaAck
    if (ack) {
      const acked = await guarded('wait for replicas', () => client.wait(ack.replicas, ack.timeoutMs))
      if (acked < ack.replicas) throw new RedisUnavailableError(`${acked} of ${ack.replicas} replicas acknowledged the task within ${ack.timeoutMs} ms`)
    }
    return tasks.map(() => undefined)
  })

  return {
    queueName: options.queueName,

    async enqueue({iterations, failAt}) {
      const id = randomUUID()
      const data: TaskData = {iterations, queuedAt: isoNow(), ...(failAt === undefined ? {} : {failAt})}
      await addTasks({id, data})
      return id
    },

    get,

    async getProgress(id) {
      const reply = (await readTasks({id, brief: true})) as BriefTaskViewReply
      if (!reply) return undefined
      const [state, progress, elapsed] = reply.split(' ') as [string, string, string]
      return {state, progress: Number(progress), elapsedMs: Number(elapsed)}
    },

    async cancel(id) {
      const snapshot = await get(id)
      if (!snapshot) return {outcome: 'not-found'}
      const status = taskStatus(snapshot)
      if (status === 'Cancelled') return {outcome: 'cancelled'}
      if (status === 'Completed' || status === 'Failed') return {outcome: 'conflict', reason: 'finished', status}
      if (status === 'Processing') return {outcome: 'conflict', reason: 'processing', status}
      // The tombstone goes first, so that no read between the two calls finds the task unknown
      // (it is read only once the job is gone), and is taken back if the job could not be removed.
      const key = highWaterKey(id)
      const tombstone = {
        c: Date.now(),
        t: snapshot.queuedAt,
        d: JSON.stringify({iterations: snapshot.iterations}),
        o: JSON.stringify({attempts: snapshot.maxAttempts}),
      }
      await guarded('cancel task', () =>
        client
          .multi()
          .hset(key, tombstone)
          .pexpire(key, options.retentionSeconds * 1000)
          .exec(),
      )
      // BullMQ's removeJob refuses (0) a job a worker has locked meanwhile: then it is running.
      // (A task that a worker took *and finished* between the read above and this call would be
      // removed and reported cancelled; BullMQ offers no atomic "remove if waiting".)
      const removed = await guarded('cancel task', () => queue.remove(id))
      if (removed !== 1) {
        await guarded('cancel task', () => client.hdel(key, 'c', 't', 'd', 'o'))
        return {outcome: 'conflict', reason: 'processing', status: 'Processing'}
      }
      return {outcome: 'cancelled'}
    },

    async counts() {
      const counts = await guarded('count jobs', () => queue.getJobCounts(...QUEUE_STATES))
      return Object.fromEntries(QUEUE_STATES.map((state) => [state, counts[state] ?? 0])) as unknown as QueueCounts
    },

    workers: () => guarded('count workers', () => queue.getWorkersCount()),

    async ping() {
      await guarded('ping', () => client.ping())
    },

    isReady: () => client.status === 'ready',

    async close() {
      closing = true
      try {
        await Promise.race([queue.close(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
      } finally {
        // The connection is ours (passed to BullMQ as an instance), so BullMQ leaves it open.
        if (client.status === 'ready') await client.quit().catch(() => undefined)
        // Always: in Sentinel mode quit() leaves the failover detector's Sentinel connections open,
        // and the process would never exit on SIGTERM (found by the chaos harness).
        client.disconnect()
      }
    },
  }
}
