import {randomUUID} from 'node:crypto'

import {Queue} from 'bullmq'
import type {Logger} from 'pino'

import type {RedisConfig} from '../../config/redis.js'
import {isoNow} from '../shared/clock.js'
import {TASK_JOB_NAME, type TaskData} from '../shared/tasks.js'
import {batched} from './batch.js'
import {connectTaskRedis, type Guarded, guardRedis, RedisUnavailableError, type RedisWithScripts, type TaskRedis} from './task-redis.js'
import {addTasksCall, type BriefTaskViewReply, type HighWater, jobOptionsJson, snapshotFromReply, type TaskViewReply, taskViewCall} from './task-scripts.js'
import {type TaskSnapshot, taskStatus} from './task-view.js'

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
 * What cancel() does with a known task as read: answer at once (already cancelled, running or
 * finished), or remove its queued job.
 */
export function cancelDecision(snapshot: Pick<TaskSnapshot, 'state'>): Exclude<CancelOutcome, {outcome: 'not-found'}> | 'remove' {
  const status = taskStatus(snapshot)
  if (status === 'Cancelled') return {outcome: 'cancelled'}
  if (status === 'Completed' || status === 'Failed') return {outcome: 'conflict', reason: 'finished', status}
  if (status === 'Processing') return {outcome: 'conflict', reason: 'processing', status}
  return 'remove'
}

interface CancelDeps {
  get(id: string): Promise<TaskSnapshot | undefined>
  guarded: Guarded
  client: RedisWithScripts
  queue: Queue<TaskData>
  highWater: HighWater
  retentionSeconds: number
}

async function cancelTask(id: string, deps: CancelDeps): Promise<CancelOutcome> {
  const snapshot = await deps.get(id)
  if (!snapshot) return {outcome: 'not-found'}
  const decision = cancelDecision(snapshot)
  if (decision !== 'remove') return decision
  const {guarded, client} = deps
  // The tombstone goes first, so that no read between the two calls finds the task unknown
  // (it is read only once the job is gone), and is taken back if the job could not be removed.
  const key = deps.highWater.key(id)
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
      .pexpire(key, deps.retentionSeconds * 1000)
      .exec(),
  )
  // BullMQ's removeJob refuses (0) a job a worker has locked meanwhile: then it is running.
  // (A task that a worker took *and finished* between the read above and this call would be
  // removed and reported cancelled; BullMQ offers no atomic "remove if waiting".)
  const removed = await guarded('cancel task', () => deps.queue.remove(id))
  if (removed !== 1) {
    await guarded('cancel task', () => client.hdel(key, 'c', 't', 'd', 'o'))
    return {outcome: 'conflict', reason: 'processing', status: 'Processing'}
  }
  return {outcome: 'cancelled'}
}

/** REDIS_WAIT_REPLICAS: the tasks are accepted only once `replicaAck.replicas` replicas hold them. */
async function waitForReplicas(client: RedisWithScripts, guarded: Guarded, ack: RedisConfig['replicaAck']): Promise<void> {
  if (!ack) return
  const acked = await guarded('wait for replicas', () => client.wait(ack.replicas, ack.timeoutMs))
  if (acked < ack.replicas) throw new RedisUnavailableError(`${acked} of ${ack.replicas} replicas acknowledged the task within ${ack.timeoutMs} ms`)
}

async function closeTaskStore(redis: TaskRedis, queue: Queue<TaskData>, timeoutMs: number): Promise<void> {
  redis.markClosing()
  const {client} = redis
  try {
    await Promise.race([queue.close(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])
  } finally {
    // The connection is ours (passed to BullMQ as an instance), so BullMQ leaves it open.
    if (client.status === 'ready') await client.quit().catch(() => undefined)
    // Always: in Sentinel mode quit() leaves the failover detector's Sentinel connections open,
    // and the process would never exit on SIGTERM (found by the chaos harness).
    client.disconnect()
  }
}

/**
 * The API's BullMQ queue on its own fail-fast Redis connection (task-redis.ts): every operation
 * answers RedisUnavailableError at once while Redis is down, and the store recovers by itself.
 * Reads and adds of one event-loop round share one script call (batch.ts, task-scripts.ts).
 */
export function createTaskStore(options: TaskStoreOptions): TaskStore {
  const timeoutMs = options.commandTimeoutMs ?? 2000
  const redis = connectTaskRedis({redis: options.redis, timeoutMs, queueName: options.queueName, logger: options.logger})
  const {client} = redis
  const queue = new Queue<TaskData>(options.queueName, {connection: client})
  queue.on('error', (error) => options.logger?.debug({err: error.message}, 'queue error'))
  const guarded = guardRedis(client, timeoutMs)
  const highWater: HighWater = {
    ttlMs: (options.retentionSeconds + 3600) * 1000,
    key: (id) => `keda-lab:${options.queueName}:task-view:${id}`,
  }

  // The reads of one event-loop round: one script call (batch.ts).
  const readTasks = batched<{id: string; brief: boolean}, TaskViewReply | BriefTaskViewReply>((reads) => {
    const {keys, args} = taskViewCall(queue.toKey, reads, Date.now(), highWater)
    return guarded('read task', () => client.kedaLabTaskView(keys.length, ...keys, ...args))
  })

  async function get(id: string): Promise<TaskSnapshot | undefined> {
    const reply = (await readTasks({id, brief: false})) as TaskViewReply
    return reply ? snapshotFromReply(id, reply) : undefined
  }

  // The tasks queued in one event-loop round: one script call, and one WAIT for all of them.
  const jobOptions = jobOptionsJson(options.attempts, options.retentionSeconds)
  const addTasks = batched<{id: string; data: TaskData}, void>(async (tasks) => {
    const {keys, args} = addTasksCall(queue.toKey, TASK_JOB_NAME, tasks, Date.now(), jobOptions)
    await guarded('queue task', () => client.kedaLabAddTasks(keys.length, ...keys, ...args))
    // A failover cannot lose a task the replicas hold (a 503 here may leave a task queued: the
    // client's retry then queues a second one).
    await waitForReplicas(client, guarded, options.redis.replicaAck)
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

    cancel: (id) => cancelTask(id, {get, guarded, client, queue, highWater, retentionSeconds: options.retentionSeconds}),

    async counts() {
      const counts = await guarded('count jobs', () => queue.getJobCounts(...QUEUE_STATES))
      return Object.fromEntries(QUEUE_STATES.map((state) => [state, counts[state] ?? 0])) as unknown as QueueCounts
    },

    workers: () => guarded('count workers', () => queue.getWorkersCount()),

    async ping() {
      await guarded('ping', () => client.ping())
    },

    isReady: () => client.status === 'ready',

    close: () => closeTaskStore(redis, queue, timeoutMs),
  }
}
