/**
 * The target of the load-engine figures (bench/loadtest-engine.ts): a bare Fastify server with
 * `GET /` (the route both generators hammer) and the lab's two routes answered at once (the add
 * queues nothing, the first poll says Completed), so that the engine's real scenario runs against
 * it without Redis. With STALL_MS and STALL_EVERY_MS it blocks its event loop STALL_MS every
 * STALL_EVERY_MS: every request in that window waits, as behind a stop-the-world pause.
 *
 * Env: PORT; STALL_MS, STALL_EVERY_MS (optional). Prints "ready" once listening.
 */
import Fastify from 'fastify'

const app = Fastify({logger: false})
let next = 0
app.get('/', async () => ({hello: 'world'}))
app.post('/api/tasks/add', async () => ({success: true, result: {id: String(++next), message: 'Task queued.'}}))
app.get('/api/tasks/status/:id', async () => ({success: true, result: {progress: {status: 'Completed', progress: '100', timeElapsed: '0.001'}}}))
app.get('/readyz', async () => ({ready: true}))

const stallMs = Number(process.env.STALL_MS ?? 0)
const everyMs = Number(process.env.STALL_EVERY_MS ?? 0)
if (stallMs > 0 && everyMs > 0) {
  setInterval(() => {
    const until = performance.now() + stallMs
    while (performance.now() < until) {
      // a stop-the-world pause: nothing is answered meanwhile
    }
  }, everyMs)
}

await app.listen({port: Number(process.env.PORT), host: '127.0.0.1'})
process.stdout.write('ready\n')
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
