/**
 * The benchmark's baseline: a bare Fastify server doing one Redis command per request, with the
 * same Redis client settings as the API, on the same Redis. Run as its own process (like the API)
 * by bench/run.ts: `node --import tsx bench/baseline-server.ts` with PORT and REDIS_URL set.
 *
 *   POST /add          → one LPUSH, answers like POST /api/tasks/add
 *   GET  /status/:id   → one HGET,  answers like GET /api/tasks/status/:id
 */
import {randomUUID} from 'node:crypto'

import Fastify from 'fastify'
import {Redis} from 'ioredis'

import {redisOptions} from '../src/adapters/redis.js'

const port = Number(process.env.PORT)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(redisOptions({mode: 'standalone', url}))
const list = 'bench:baseline:list'
const hash = 'bench:baseline:hash'

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

await redis.hset(hash, 'known', '37.0')
await app.listen({host: '127.0.0.1', port})
console.log(`baseline listening on ${port}`)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await app.close()
    await redis.del(list, hash)
    redis.disconnect()
    process.exit(0)
  })
}
