/**
 * The API queues tasks with its own script (task-store.ts, ADD_TASKS_LUA), in batches, instead of
 * BullMQ's queue.add: twice as cheap per task. That is only sound while it writes exactly what
 * BullMQ's add writes, so this pins it against the installed BullMQ on a real redis-server: the
 * same tasks queued both ways leave the same job hashes, wait list, marker, id counter, queue meta
 * and event stream; a paused queue gets no marker either way; and a real BullMQ Worker runs the
 * API's tasks with their options (attempts, backoff, retention). A BullMQ upgrade that changes its
 * layout fails here first.
 */
import {randomUUID} from 'node:crypto'

import {type Job, Queue, Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import type {RedisConfig} from '../../src/config/redis.js'
import {createTaskStore, type TaskStore} from '../../src/services/api/task-store.js'
import {TASK_JOB_NAME, type TaskData} from '../../src/services/shared/tasks.js'
import {waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'

const ATTEMPTS = 2
const RETENTION_SECONDS = 600

let redis: RedisServer
let redisConfig: RedisConfig
let client: Redis
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  redis = await startRedis()
  redisConfig = {mode: 'standalone', url: redis.url}
  client = new Redis(redisOptions(redisConfig))
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  client?.disconnect()
  await redis?.stop()
})

async function makeStore(): Promise<{store: TaskStore; queueName: string}> {
  const queueName = `store-${randomUUID()}`
  const store = createTaskStore({redis: redisConfig, queueName, attempts: ATTEMPTS, retentionSeconds: RETENTION_SECONDS, commandTimeoutMs: 2000})
  cleanups.push(() => store.close())
  await waitFor(() => store.isReady(), {what: 'task store Redis connection'})
  return {store, queueName}
}

/** A BullMQ Queue on its own connection: a fresh queue by default, or the store's queue by name. */
function makeQueue(name = `bullmq-${randomUUID()}`): Queue<TaskData> {
  const connection = new Redis(redisOptions(redisConfig))
  const queue = new Queue<TaskData>(name, {connection})
  cleanups.push(async () => {
    await queue.obliterate({force: true})
    await queue.close()
    connection.disconnect()
  })
  return queue
}

/** BullMQ's own add of the task `id` as the API's options describe it, with the data the API stored. */
async function addWithBullMQ(queue: Queue<TaskData>, id: string, data: TaskData): Promise<void> {
  await queue.add(TASK_JOB_NAME, data, {
    jobId: id,
    attempts: ATTEMPTS,
    backoff: {type: 'exponential', delay: 1000},
    removeOnComplete: {age: RETENTION_SECONDS},
    removeOnFail: {age: RETENTION_SECONDS},
  })
}

/**
 * Everything BullMQ keeps for a queue's waiting jobs, with the queue's prefix taken out: job hashes
 * (JSON fields parsed, the timestamp checked then left out), the lists and sets, the id counter, the
 * meta hash, and the event stream as (event, fields) in order.
 */
async function queueState(queueName: string, ids: string[]) {
  const key = (suffix: string) => `bull:${queueName}:${suffix}`
  const jobs: Record<string, Record<string, unknown>> = {}
  for (const id of ids) {
    const {timestamp, data, opts, ...rest} = await client.hgetall(key(id))
    expect(Number(timestamp), `job ${id} timestamp`).toBeGreaterThan(Date.now() - 60_000)
    jobs[id] = {...rest, data: JSON.parse(data!), opts: JSON.parse(opts!)}
  }
  const events = (await client.xrange(key('events'), '-', '+')).map(([, fields]) => fields)
  const {version: _version, ...meta} = await client.hgetall(key('meta'))
  return {
    jobs,
    wait: await client.lrange(key('wait'), 0, -1),
    marker: await client.zrange(key('marker'), '0', '-1', 'WITHSCORES'),
    idCounter: await client.get(key('id')),
    meta,
    events,
    others: {
      active: await client.llen(key('active')),
      delayed: await client.zcard(key('delayed')),
      prioritized: await client.zcard(key('prioritized')),
      paused: await client.llen(key('paused')),
    },
  }
}

const storedData = async (queueName: string, id: string) => JSON.parse((await client.hget(`bull:${queueName}:${id}`, 'data'))!) as TaskData

describe("the API's task script against BullMQ's own add (real redis-server)", () => {
  it('queues a batch of tasks exactly as queue.add queues them one by one', async () => {
    const {store, queueName} = await makeStore()
    // Called together: one event-loop round, so one batch (the id counter below shows all three).
    const ids = await Promise.all([store.enqueue({iterations: 1000}), store.enqueue({iterations: 2000, failAt: 50}), store.enqueue({iterations: 3000})])
    expect(new Set(ids).size).toBe(3)

    const queue = makeQueue()
    for (const id of ids) await addWithBullMQ(queue, id, await storedData(queueName, id))

    const ours = await queueState(queueName, ids)
    const theirs = await queueState(queue.name, ids)
    expect(ours).toEqual(theirs)
    // What the comparison covered, so that an empty state on both sides cannot pass it.
    expect(ours.wait).toEqual([...ids].reverse())
    expect(ours.marker).toEqual(['0', '0'])
    expect(ours.idCounter).toBe('3')
    expect(ours.events.map((fields) => fields[1])).toEqual(['added', 'waiting', 'added', 'waiting', 'added', 'waiting'])
    expect(ours.jobs[ids[1]!]).toMatchObject({name: TASK_JOB_NAME, delay: '0', priority: '0', data: {iterations: 2000, failAt: 50}})
    expect(ours.jobs[ids[1]!]!.opts).toEqual({
      attempts: ATTEMPTS,
      backoff: {type: 'exponential', delay: 1000},
      jobId: ids[1],
      removeOnComplete: {age: RETENTION_SECONDS},
      removeOnFail: {age: RETENTION_SECONDS},
    })
  })

  it('sets no marker on a paused queue, as BullMQ does (the workers stay asleep)', async () => {
    const {store, queueName} = await makeStore()
    await makeQueue(queueName).pause()
    const id = await store.enqueue({iterations: 10})

    const queue = makeQueue()
    await queue.pause()
    await addWithBullMQ(queue, id, await storedData(queueName, id))

    const state = await queueState(queueName, [id])
    expect(state).toEqual(await queueState(queue.name, [id]))
    expect(state.marker).toEqual([])
    expect(state.wait).toEqual([id])
    expect(state.meta.paused).toBe('1')
  })

  it("a real BullMQ Worker runs the API's tasks with their options: a failed first attempt is retried after the backoff", async () => {
    const {store, queueName} = await makeStore()
    const id = await store.enqueue({iterations: 7})
    const seen: {attempt: number; data: TaskData; name: string}[] = []
    const connection = new Redis(redisOptions(redisConfig))
    const worker = new Worker<TaskData>(
      queueName,
      async (job: Job<TaskData>) => {
        seen.push({attempt: job.attemptsStarted, data: job.data, name: job.name})
        if (job.attemptsStarted === 1) throw new Error('first attempt fails on purpose')
        return {done: job.data.iterations}
      },
      {connection, concurrency: 1},
    )
    worker.on('error', () => {})
    cleanups.push(async () => {
      await worker.close(true)
      connection.disconnect()
    })

    const snapshot = await waitFor(
      async () => {
        const task = await store.get(id)
        return task?.state === 'completed' ? task : undefined
      },
      {what: 'the task to complete on its second attempt', timeoutMs: 20_000},
    )
    expect(seen.map((entry) => entry.attempt)).toEqual([1, 2])
    expect(seen[0]).toMatchObject({name: TASK_JOB_NAME, data: {iterations: 7}})
    expect(snapshot).toMatchObject({attemptsMade: 2, maxAttempts: ATTEMPTS, iterations: 7, result: {done: 7}})
    // The exponential backoff's first delay (1 s) separates the two attempts.
    const [timestamp, processedOn] = await client.hmget(`bull:${queueName}:${id}`, 'timestamp', 'processedOn')
    expect(Number(processedOn) - Number(timestamp)).toBeGreaterThanOrEqual(1000)
  })

  it('answers each of many concurrent calls with its own task (batched reads and writes)', async () => {
    const {store, queueName} = await makeStore()
    const ids = await Promise.all(Array.from({length: 200}, (_, i) => store.enqueue({iterations: i + 1})))
    expect(new Set(ids).size).toBe(200)
    expect((await client.lrange(`bull:${queueName}:wait`, 0, -1)).sort()).toEqual([...ids].sort())

    const unknown = Array.from({length: 50}, () => randomUUID())
    const reads = await Promise.all([...ids, ...unknown].map((id) => store.get(id)))
    for (const [i, task] of reads.slice(0, 200).entries()) expect(task, ids[i]).toMatchObject({id: ids[i], state: 'waiting', iterations: i + 1})
    expect(reads.slice(200)).toEqual(unknown.map(() => undefined))
    const brief = await Promise.all([ids[5]!, unknown[0]!].map((id) => store.getProgress(id)))
    expect(brief).toEqual([{state: 'waiting', progress: 0, elapsedMs: 0}, undefined])
  })
})
