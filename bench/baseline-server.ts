/**
 * The benchmark's baseline: a bare Fastify server doing one Redis command per request, with the
 * same Redis client settings as the API, on the same Redis. Run as its own process (like the API)
 * by bench/run.ts: `node --import tsx bench/baseline-server.ts` with PORT and REDIS_URL set.
 *
 *   POST /add          → one LPUSH, answers like POST /api/tasks/add
 *   GET  /status/:id   → one HGET,  answers like GET /api/tasks/status/:id
 *
 * And, to tell the API's own cost from BullMQ's, the same with BullMQ and nothing else:
 *   POST /bullmq/add         → queue.add (what enqueuing a job costs at the least)
 *   GET  /bullmq/status/:id  → queue.getJob + job.getState
 */
import {randomUUID} from 'node:crypto'

import {Queue} from 'bullmq'
import Fastify from 'fastify'
import {Redis} from 'ioredis'

import {redisOptions} from '../src/adapters/redis.js'
import {TASK_JOB_NAME, type TaskData} from '../src/services/shared/tasks.js'

const port = Number(process.env.PORT)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(redisOptions({mode: 'standalone', url}))
redis.on('error', () => {}) // reconnects by itself; bench/run.ts reports a baseline that is not up
const list = 'bench:baseline:list'
const hash = 'bench:baseline:hash'

const queue = new Queue<TaskData>(`bench-baseline-${process.pid}`, {connection: redis})
const app = Fastify({logger: false})

app.post('/add', async () => {
  const id = randomUUID()
  await redis.lpush(list, id)
  return {success: true, result: {id, message: 'Task queued.'}}
})

app.get<{Params: {id: string}}>('/status/:id', async (request, reply) => {
  const progress = await redis.hget(hash, request.params.id)
  if (progress === null) return reply.code(404).send({success: false, error: {message: 'Task not found.'}})
  return {success: true, result: {progress: {status: 'Processing', progress, timeElapsed: '1.2345'}}}
})

app.post('/bullmq/add', async () => {
  const id = randomUUID()
  await queue.add(TASK_JOB_NAME, {iterations: 0, queuedAt: new Date().toISOString()}, {jobId: id, removeOnComplete: {age: 3600}, removeOnFail: {age: 3600}})
  return {success: true, result: {id, message: 'Task queued.'}}
})

app.get<{Params: {id: string}}>('/bullmq/status/:id', async (request, reply) => {
  const job = await queue.getJob(request.params.id)
  if (!job) return reply.code(404).send({success: false, error: {message: 'Task not found.'}})
  const state = await job.getState()
  return {success: true, result: {progress: {status: state, progress: String(job.progress), timeElapsed: '0.0000'}}}
})

await redis.hset(hash, 'known', '37.0')
await queue.add(TASK_JOB_NAME, {iterations: 0, queuedAt: new Date().toISOString()}, {jobId: 'known'})
await app.listen({host: '127.0.0.1', port})
console.log(`baseline listening on ${port}`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await app.close()
    await queue.obliterate({force: true})
    await queue.close()
    await redis.del(list, hash)
    redis.disconnect()
    process.exit(0)
  })
}
