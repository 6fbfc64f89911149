import {randomUUID} from 'node:crypto'

import {type Job, Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {type Logger, pino} from 'pino'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {redisOptions} from '../../src/adapters/redis.js'
import type {RedisConfig} from '../../src/config/redis.js'
import {type ApiApp, buildApp} from '../../src/services/api/app.js'
import {type ApiMetrics, createApiMetrics} from '../../src/services/api/metrics.js'
import {createTaskStore, type TaskStore} from '../../src/services/api/task-store.js'
import type {TaskData} from '../../src/services/shared/tasks.js'
import {createWorker} from '../../src/services/worker/worker.js'
import {waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'

interface Api {
  app: ApiApp
  queue: TaskStore
  metrics: ApiMetrics
  queueName: string
}

let redis: RedisServer
let redisConfig: RedisConfig
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  redis = await startRedis()
  redisConfig = {mode: 'standalone', url: redis.url}
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await redis?.stop()
})

async function makeApi(task: {attempts?: number; maxIterations?: number; retentionSeconds?: number; logger?: Logger} = {}): Promise<Api> {
  const queueName = `test-${randomUUID()}`
  const queue = createTaskStore({
    redis: redisConfig,
    queueName,
    attempts: task.attempts ?? 1,
    retentionSeconds: task.retentionSeconds ?? 600,
    commandTimeoutMs: 1000,
  })
  const metrics = createApiMetrics({queue})
  const app = await buildApp({
    config: {task: {defaultIterations: 1000, maxIterations: task.maxIterations ?? 5000}},
    queue,
    metrics,
    logger: task.logger,
  })
  cleanups.push(
    () => queue.close(),
    () => app.close(),
  )
  await waitFor(() => queue.isReady(), {what: 'API Redis connection'})
  return {app, queue, metrics, queueName}
}

/** A BullMQ worker in the test process, standing in for the real worker (someone else's file). */
function inlineWorker(queueName: string, processor: (job: Job<TaskData>) => Promise<unknown>): Worker<TaskData> {
  const connection = new Redis(redisOptions(redisConfig))
  const worker = new Worker<TaskData>(queueName, processor, {connection, concurrency: 1})
  worker.on('error', () => {})
  cleanups.push(async () => {
    await worker.close(true)
    connection.disconnect()
  })
  return worker
}

/** A promise the test resolves to let an inline worker go on. */
function gate(): {wait: Promise<void>; open(): void} {
  let open!: () => void
  const wait = new Promise<void>((resolve) => (open = resolve))
  return {wait, open}
}

const legacyStatus = async (app: ApiApp, id: string) => {
  const response = await app.inject({method: 'GET', url: `/api/tasks/status/${id}`})
  expect(response.statusCode).toBe(200)
  return response.json().result.progress as {status: string; progress: string; timeElapsed: string}
}

describe('API on a real redis-server: the original contract', () => {
  it('POST /api/tasks/add and GET /api/tasks/status/:id answer exactly the original shapes', async () => {
    const {app} = await makeApi()
    const added = await app.inject({method: 'POST', url: '/api/tasks/add'})
    expect(added.statusCode).toBe(200)
    expect(added.headers['content-type']).toBe('application/json')
    const body = added.json()
    expect(Object.keys(body)).toEqual(['success', 'result'])
    expect(body.success).toBe(true)
    expect(body.result.message).toBe('Task queued.')
    expect(body.result.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)

    // Clients that send an empty form (curl -d ''), JSON with no body or malformed JSON are served
    // the same: the original route never read its body.
    const bodies: [Record<string, string>, string][] = [
      [{'content-type': 'application/x-www-form-urlencoded'}, ''],
      [{'content-type': 'application/json'}, ''],
      [{'content-type': 'application/json'}, '{"iterations": '],
      [{'content-type': 'application/json; charset=utf-8'}, 'nope'],
    ]
    for (const [headers, payload] of bodies) {
      const again = await app.inject({method: 'POST', url: '/api/tasks/add', headers, payload})
      expect(again.statusCode, payload).toBe(200)
      expect(again.json().result.message).toBe('Task queued.')
    }

    const status = await app.inject({method: 'GET', url: `/api/tasks/status/${body.result.id}`})
    expect(status.statusCode).toBe(200)
    expect(status.headers['content-type']).toBe('application/json')
    expect(status.json()).toEqual({success: true, result: {progress: {status: 'Queued', progress: '0.0', timeElapsed: '0.0000'}}})
  })

  it('follows a task to Completed with progress and timeElapsed never going backwards', async () => {
    const {app, queueName} = await makeApi()
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    inlineWorker(queueName, async (job) => {
      for (let step = 1; step <= 100; step++) {
        await new Promise((resolve) => setTimeout(resolve, 3))
        await job.updateProgress(step)
      }
      return {steps: 100}
    })
    const seen: {status: string; progress: string; timeElapsed: string}[] = []
    await waitFor(
      async () => {
        const progress = await legacyStatus(app, id)
        seen.push(progress)
        return progress.status === 'Completed'
      },
      {intervalMs: 10, timeoutMs: 20_000, what: 'task completed'},
    )
    const last = seen.at(-1)!
    expect(last.progress).toBe('100.0')
    expect(Number(last.timeElapsed)).toBeGreaterThan(0.2)
    expect(seen.some((p) => p.status === 'Processing' && Number(p.progress) > 0 && Number(p.progress) < 100)).toBe(true)
    for (let i = 1; i < seen.length; i++) {
      expect(Number(seen[i]!.progress)).toBeGreaterThanOrEqual(Number(seen[i - 1]!.progress))
      expect(Number(seen[i]!.timeElapsed)).toBeGreaterThanOrEqual(Number(seen[i - 1]!.timeElapsed))
    }
    // Once finished, the figures are frozen.
    expect(await legacyStatus(app, id)).toEqual(last)
  })

  it('keeps progress and timeElapsed monotonic across a retry (attempt 2 restarts from 0 %)', async () => {
    const {app, queueName} = await makeApi({attempts: 2})
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    const firstDone = gate()
    const secondMid = gate()
    inlineWorker(queueName, async (job) => {
      if (job.attemptsMade === 0) {
        await job.updateProgress(60)
        await firstDone.wait
        throw new Error('first attempt fails')
      }
      await job.updateProgress(10)
      await secondMid.wait
      await job.updateProgress(100)
      return 'ok'
    })
    const first = await waitFor(
      async () => {
        const p = await legacyStatus(app, id)
        return p.progress === '60.0' ? p : undefined
      },
      {what: 'attempt 1 at 60 %'},
    )
    expect(first.status).toBe('Processing')
    firstDone.open()
    // Attempt 2 reports 10 %: the status must hold 60.0 and elapsed keeps counting from the first start.
    const second = await waitFor(
      async () => {
        const task = (await app.inject({method: 'GET', url: `/api/tasks/${id}`})).json()
        return task.attempts === 2 && task.status === 'Processing' ? task : undefined
      },
      {what: 'attempt 2 running'},
    )
    expect(second.progress).toBe(60)
    const during = await legacyStatus(app, id)
    expect(during.progress).toBe('60.0')
    expect(Number(during.timeElapsed)).toBeGreaterThanOrEqual(Number(first.timeElapsed))
    secondMid.open()
    const done = await waitFor(
      async () => {
        const p = await legacyStatus(app, id)
        return p.status === 'Completed' ? p : undefined
      },
      {what: 'attempt 2 completed'},
    )
    expect(done.progress).toBe('100.0')
    expect(Number(done.timeElapsed)).toBeGreaterThanOrEqual(Number(during.timeElapsed))
  })

  it('reports a failed task with its reason and the progress it reached', async () => {
    const {app, queueName} = await makeApi()
    const created = await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 7}})
    const {id} = created.json()
    inlineWorker(queueName, async (job) => {
      await job.updateProgress(42)
      throw new Error('the CPU caught fire')
    })
    const task = await waitFor(
      async () => {
        const t = (await app.inject({method: 'GET', url: `/api/tasks/${id}`})).json()
        return t.status === 'Failed' ? t : undefined
      },
      {what: 'task failed'},
    )
    expect(task).toMatchObject({
      id,
      status: 'Failed',
      progress: 42,
      iterations: 7,
      attempts: 1,
      maxAttempts: 1,
      failedReason: 'the CPU caught fire',
      result: null,
    })
    expect(new Date(task.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(task.startedAt).getTime())
    expect(await legacyStatus(app, id)).toMatchObject({status: 'Failed', progress: '42.0'})
  })
})

describe('API on a real redis-server: modern API', () => {
  it('failAt makes the real worker fail the task at that step, shown with its reason and progress', async () => {
    const {app, queueName} = await makeApi({attempts: 2})
    const worker = createWorker({
      config: {
        redis: redisConfig,
        queueName,
        concurrency: 1,
        defaultIterations: 1000,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        maxStalledCount: 1,
        shutdownGraceMs: 5000,
        name: 'api-failat-test',
      },
      logger: pino({level: 'silent'}),
    })
    try {
      const {id} = (await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 1000, failAt: 37}})).json()
      // Two attempts, the second after the 1 s backoff: both fail at step 37.
      const task = await waitFor(
        async () => {
          const t = (await app.inject({method: 'GET', url: `/api/tasks/${id}`})).json()
          return t.status === 'Failed' ? t : undefined
        },
        {what: 'task failed on purpose', timeoutMs: 20_000},
      )
      expect(task).toMatchObject({status: 'Failed', progress: 36, attempts: 2, maxAttempts: 2})
      expect(task.failedReason).toContain('failed on purpose at step 37')
      expect(await legacyStatus(app, id)).toMatchObject({status: 'Failed', progress: '36.0'})
    } finally {
      await worker.shutdown()
    }
  })

  it('POST /api/tasks: 202 with Location, optional body, size bounds, 0 allowed', async () => {
    const {app, queue} = await makeApi({maxIterations: 5000})
    const noBody = await app.inject({method: 'POST', url: '/api/tasks'})
    expect(noBody.statusCode).toBe(202)
    const {id, status, links} = noBody.json()
    expect(status).toBe('Queued')
    expect(links).toEqual({self: `/api/tasks/${id}`})
    expect(noBody.headers.location).toBe(`/api/tasks/${id}`)
    expect((await queue.get(id))?.iterations).toBe(1000)

    const emptyJson = await app.inject({method: 'POST', url: '/api/tasks', headers: {'content-type': 'application/json'}, payload: ''})
    expect(emptyJson.statusCode).toBe(202)
    const zero = await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 0}})
    expect(zero.statusCode).toBe(202)
    expect((await queue.get(zero.json().id))?.iterations).toBe(0)
    const max = await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 5000}})
    expect(max.statusCode).toBe(202)

    const task = (await app.inject({method: 'GET', url: `/api/tasks/${id}`})).json()
    expect(task).toMatchObject({
      id,
      status: 'Queued',
      progress: 0,
      iterations: 1000,
      startedAt: null,
      finishedAt: null,
      elapsedSeconds: 0,
      attempts: 0,
      maxAttempts: 1,
    })
    expect(new Date(task.queuedAt).toISOString()).toBe(task.queuedAt)
  })

  it('rejects bad input with one JSON error naming the problem', async () => {
    const {app} = await makeApi({maxIterations: 5000})
    const post = (payload: string, contentType = 'application/json') =>
      app.inject({method: 'POST', url: '/api/tasks', headers: {'content-type': contentType}, payload})
    const cases: [string, number, RegExp][] = [
      ['{"iterations": 5001}', 400, /^body\.iterations must be <= 5000$/],
      ['{"iterations": -1}', 400, /^body\.iterations must be >= 0$/],
      ['{"iterations": "5"}', 400, /^body\.iterations must be integer$/],
      ['{"iterations": 1.5}', 400, /^body\.iterations must be integer$/],
      ['{"failAt": 0}', 400, /^body\.failAt must be >= 1$/],
      ['{"failAt": 101}', 400, /^body\.failAt must be <= 100$/],
      ['{"size": 5}', 400, /^body\.size is not a known field$/],
      ['[1]', 400, /^body must be object$/],
      ['null', 400, /^body must be object$/],
      ['{"iterations": ', 400, /^Invalid JSON body/],
      [`{"pad": "${'x'.repeat(1024 * 1024)}"}`, 413, /too large/],
    ]
    for (const [payload, code, message] of cases) {
      const response = await post(payload)
      expect(response.statusCode, payload.slice(0, 40)).toBe(code)
      const body = response.json()
      expect(body.success).toBe(false)
      expect(body.error.message).toMatch(message)
    }
    const text = await post('iterations=5', 'text/plain')
    expect(text.statusCode).toBe(400)
    expect(text.json()).toEqual({success: false, error: {message: 'body must be object'}})
    const xml = await post('<iterations>5</iterations>', 'application/xml')
    expect(xml.statusCode).toBe(415)
    expect(xml.json().success).toBe(false)
    expect((await post('iterations=5', 'application/x-www-form-urlencoded')).statusCode).toBe(415)
  })

  it('answers 404 for every id that is not a known task, without a stack trace', async () => {
    const {app} = await makeApi()
    const urls = [
      `/api/tasks/${randomUUID()}`,
      `/api/tasks/status/${randomUUID()}`,
      '/api/tasks/status/..%2F..%2Fetc%2Fpasswd',
      '/api/tasks/..%2F..',
      `/api/tasks/status/${'a'.repeat(10_000)}`,
      `/api/tasks/${'a'.repeat(10_000)}`,
      '/api/tasks/1',
      `/api/tasks/${randomUUID().toUpperCase()}`,
      `/api/tasks/status/${randomUUID().toUpperCase()}`,
      '/api/tasks/status/%E0%A4%A',
    ]
    for (const url of urls) {
      for (const method of ['GET', 'DELETE'] as const) {
        if (method === 'DELETE' && url.includes('/status/')) continue
        const response = await app.inject({method, url})
        expect(response.statusCode, `${method} ${url.slice(0, 60)}`).toBe(404)
        expect(response.headers['content-type'], `${method} ${url.slice(0, 60)}`).toBe('application/json')
        expect(response.json()).toEqual({success: false, error: {message: 'Task not found.'}})
      }
    }
    const unknown = await app.inject({method: 'GET', url: '/nowhere'})
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toEqual({success: false, error: {message: 'Route GET /nowhere not found. The API is described at /docs.'}})
  })

  it('finds a task by its id in upper case too (UUIDs are case-insensitive)', async () => {
    const {app} = await makeApi()
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    const upper = id.toUpperCase()
    expect(upper).not.toBe(id)
    expect((await legacyStatus(app, upper)).status).toBe('Queued')
    const task = await app.inject({method: 'GET', url: `/api/tasks/${upper}`})
    expect(task.statusCode).toBe(200)
    expect(task.json()).toMatchObject({id, status: 'Queued', links: {self: `/api/tasks/${id}`}})
    expect((await app.inject({method: 'DELETE', url: `/api/tasks/${upper}`})).json()).toEqual({id, cancelled: true})
  })

  it('answers a known path asked with another method with 405, an Allow header and the error envelope', async () => {
    const {app} = await makeApi()
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    const cases: [string, string, string][] = [
      ['PUT', '/api/tasks', 'POST'],
      ['GET', '/api/tasks', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/readyz', 'GET, HEAD'],
      ['GET', '/api/tasks/add', 'POST'],
      ['DELETE', '/api/tasks/add', 'POST'],
      ['PUT', '/api/tasks/add', 'POST'],
      ['PATCH', `/api/tasks/${id}`, 'DELETE, GET, HEAD'],
      ['PUT', `/api/tasks/${randomUUID()}`, 'DELETE, GET, HEAD'],
      ['POST', `/api/tasks/status/${id}`, 'GET, HEAD'],
      ['DELETE', `/api/tasks/status/${id}`, 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['POST', '/api/queue?x=1', 'GET, HEAD'],
      // A method that carries a body but came without a Content-Type: still a question of the route (found by schemathesis).
      ['QUERY', '/healthz', 'GET, HEAD'],
    ]
    for (const [method, url, allow] of cases) {
      const response = await app.inject({method: method as 'GET', url})
      expect(response.statusCode, `${method} ${url}`).toBe(405)
      expect(response.headers.allow, `${method} ${url}`).toBe(allow)
      expect(response.headers['content-type']).toBe('application/json')
      expect(response.json()).toEqual({success: false, error: {message: `Method ${method} is not allowed on ${url.split('?')[0]}; use ${allow}.`}})
    }
    // The task is untouched, and an unknown path stays a 404.
    expect((await legacyStatus(app, id)).status).toBe('Queued')
    expect((await app.inject({method: 'PUT', url: '/nowhere'})).statusCode).toBe(404)
  })

  it('DELETE cancels a queued task, which then reports Cancelled; a running or finished one is a 409', async () => {
    const {app, queueName} = await makeApi()
    const queued = (await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 7}})).json().id
    const cancelled = await app.inject({method: 'DELETE', url: `/api/tasks/${queued}`})
    expect(cancelled.statusCode).toBe(200)
    expect(cancelled.json()).toEqual({id: queued, cancelled: true})
    const after = await app.inject({method: 'GET', url: `/api/tasks/${queued}`})
    expect(after.statusCode).toBe(200)
    expect(after.json()).toMatchObject({id: queued, status: 'Cancelled', progress: 0, iterations: 7, startedAt: null, attempts: 0, result: null})
    expect(new Date(after.json().finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(after.json().queuedAt).getTime())
    expect(await legacyStatus(app, queued)).toEqual({status: 'Cancelled', progress: '0.0', timeElapsed: '0.0000'})
    // Cancelling again is the same success (DELETE is idempotent); no worker ever runs it.
    expect((await app.inject({method: 'DELETE', url: `/api/tasks/${queued}`})).json()).toEqual({id: queued, cancelled: true})

    const release = gate()
    inlineWorker(queueName, async (job) => {
      await job.updateProgress(50)
      await release.wait
      return 'done'
    })
    const running = (await app.inject({method: 'POST', url: '/api/tasks'})).json().id
    await waitFor(async () => (await app.inject({method: 'GET', url: `/api/tasks/${running}`})).json().status === 'Processing', {what: 'task running'})
    const busy = await app.inject({method: 'DELETE', url: `/api/tasks/${running}`})
    expect(busy.statusCode).toBe(409)
    expect(busy.json().error.message).toMatch(/being processed/)
    release.open()
    await waitFor(async () => (await app.inject({method: 'GET', url: `/api/tasks/${running}`})).json().status === 'Completed', {what: 'task completed'})
    const finished = await app.inject({method: 'DELETE', url: `/api/tasks/${running}`})
    expect(finished.statusCode).toBe(409)
    expect(finished.json().error.message).toMatch(/already finished \(Completed\)/)
    expect((await app.inject({method: 'GET', url: `/api/tasks/${running}`})).json()).toMatchObject({status: 'Completed', result: 'done', progress: 100})
  })

  it('GET /api/queue counts jobs per state and the connected workers', async () => {
    const {app, queueName} = await makeApi()
    for (let i = 0; i < 3; i++) await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 0}})
    const before = (await app.inject({method: 'GET', url: '/api/queue'})).json()
    expect(before).toEqual({
      name: queueName,
      counts: {waiting: 3, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 0, failed: 0},
      workers: 0,
    })
    const worker = inlineWorker(queueName, async () => 'ok')
    await worker.waitUntilReady()
    const after = await waitFor(
      async () => {
        const q = (await app.inject({method: 'GET', url: '/api/queue'})).json()
        return q.counts.completed === 3 && q.workers === 1 ? q : undefined
      },
      {what: 'three tasks completed by one worker'},
    )
    expect(after.counts.waiting).toBe(0)
  })

  it('serves the OpenAPI document and Swagger UI from the route schemas; probes answer', async () => {
    const {app} = await makeApi()
    const doc = (await app.inject({method: 'GET', url: '/openapi.json'})).json()
    expect(doc.openapi).toMatch(/^3\./)
    // The body of POST /api/tasks is optional, and Swagger UI's example is the ordinary task.
    const create = doc.paths['/api/tasks'].post
    expect(create.requestBody.required).toBe(false)
    expect(create['x-optional-body']).toBeUndefined()
    expect(create.requestBody.content['application/json'].example).toEqual({iterations: 1000})
    expect(doc.components.schemas.ErrorBody).toBeDefined()
    expect((await app.inject({method: 'GET', url: '/docs/json'})).json()).toEqual(doc)
    // Swagger UI's Explore box loads /openapi.json, not its own copy at /docs/json.
    const initializer = (await app.inject({method: 'GET', url: '/docs/static/swagger-initializer.js'})).body
    expect(initializer).toContain("url: new URL('/openapi.json', window.location.href).href")
    expect(initializer).not.toContain("resolveUrl('./json')")
    expect(Object.keys(doc.paths).sort()).toEqual(
      ['/api/queue', '/api/tasks', '/api/tasks/add', '/api/tasks/status/{id}', '/api/tasks/{id}', '/healthz', '/readyz'].sort(),
    )
    expect(doc.paths['/api/tasks'].post.requestBody.content['application/json'].schema.properties.iterations).toMatchObject({
      type: 'integer',
      minimum: 0,
      maximum: 5000,
    })
    expect(doc.components.schemas.ErrorBody).toBeDefined()
    const ui = await app.inject({method: 'GET', url: '/docs/'})
    expect(ui.statusCode).toBe(200)
    expect(ui.headers['content-type']).toMatch(/text\/html/)
    expect((await app.inject({method: 'GET', url: '/healthz'})).json()).toEqual({status: 'ok'})
    expect((await app.inject({method: 'GET', url: '/readyz'})).json()).toEqual({status: 'ready'})
  })

  it('metrics: route patterns (not raw URLs), tasks enqueued, queue depth read at scrape time', async () => {
    const {app, metrics, queueName} = await makeApi()
    const ids: string[] = []
    for (let i = 0; i < 2; i++) ids.push((await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result.id)
    await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 0}})
    for (const id of ids) await app.inject({method: 'GET', url: `/api/tasks/status/${id}`})
    await app.inject({method: 'GET', url: `/api/tasks/status/${randomUUID()}`})
    const text = await metrics.registry.metrics()
    expect(text).toContain('keda_lab_api_http_request_duration_seconds_count{method="GET",route="/api/tasks/status/:id",status_code="200"} 2')
    expect(text).toContain('keda_lab_api_http_request_duration_seconds_count{method="GET",route="/api/tasks/status/:id",status_code="404"} 1')
    expect(text).toContain('keda_lab_api_http_request_duration_seconds_count{method="POST",route="/api/tasks/add",status_code="200"} 2')
    for (const id of ids) expect(text).not.toContain(id)
    expect(text).toContain('keda_lab_api_tasks_enqueued_total{api="legacy"} 2')
    expect(text).toContain('keda_lab_api_tasks_enqueued_total{api="modern"} 1')
    expect(text).toContain(`keda_lab_queue_jobs{queue="${queueName}",state="waiting"} 3`)
    expect(text).toContain(`keda_lab_queue_workers{queue="${queueName}"} 0`)
    expect(text).toContain('process_cpu_seconds_total')
  })
})

describe('API: retention and unexpected errors', () => {
  it('removes finished tasks after TASK_RETENTION_SECONDS (BullMQ removes them as later tasks finish)', async () => {
    const {app, queueName} = await makeApi({retentionSeconds: 1})
    inlineWorker(queueName, async () => 'ok')
    const finish = async () => {
      const {id} = (await app.inject({method: 'POST', url: '/api/tasks', payload: {iterations: 0}})).json()
      await waitFor(async () => (await app.inject({method: 'GET', url: `/api/tasks/${id}`})).json().status === 'Completed', {what: 'task completed'})
      return id as string
    }
    const first = await finish()
    expect((await app.inject({method: 'GET', url: `/api/tasks/status/${first}`})).statusCode).toBe(200)
    await waitFor(
      async () => {
        await finish()
        return (await app.inject({method: 'GET', url: `/api/tasks/status/${first}`})).statusCode === 404
      },
      {intervalMs: 300, timeoutMs: 15_000, what: 'the first task removed after its retention'},
    )
  })

  it('answers an unexpected Redis error with a bare 500 and logs the details', async () => {
    const lines: string[] = []
    const logger = pino({level: 'info'}, {write: (line: string) => lines.push(line)})
    const {app, queueName} = await makeApi({logger})
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    // Overwrite the job's hash with a string so the status script hits WRONGTYPE: a real server error, not a mock.
    const direct = new Redis(redis.port, '127.0.0.1')
    try {
      await direct.set(`bull:${queueName}:${id}`, 'not-a-hash')
      const response = await app.inject({method: 'GET', url: `/api/tasks/status/${id}`})
      expect(response.statusCode).toBe(500)
      expect(response.headers['content-type']).toBe('application/json')
      expect(response.json()).toEqual({success: false, error: {message: 'Internal Server Error'}})
      expect(lines.join('')).toMatch(/WRONGTYPE/)
      expect(lines.join('')).toContain('"msg":"request failed"')
    } finally {
      direct.disconnect()
    }
  })
})

describe('API when Redis goes away', () => {
  it('answers 503 instead of hanging when Redis stops answering (CLIENT PAUSE longer than the command time limit)', async () => {
    const {app} = await makeApi()
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    const admin = new Redis(redisOptions(redisConfig))
    try {
      // Redis holds every client's commands for 3 s; the API's limit is 1 s (makeApi), so a 200
      // here would mean the request waited for Redis instead of giving up.
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL')
      const status = await app.inject({method: 'GET', url: `/api/tasks/status/${id}`})
      expect(status.statusCode).toBe(503)
      expect(status.json().error.message).toMatch(/Redis/)
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined)
      admin.disconnect()
    }
    await waitFor(async () => (await app.inject({method: 'GET', url: `/api/tasks/status/${id}`})).statusCode === 200, {
      timeoutMs: 10_000,
      what: 'status 200 again',
    })
  })

  it('starts while Redis is down (503, readyz failing) and becomes ready when Redis comes up', async () => {
    await redis.kill()
    let restarted = false
    try {
      const queue = createTaskStore({redis: redisConfig, queueName: `test-${randomUUID()}`, attempts: 1, retentionSeconds: 600, commandTimeoutMs: 1000})
      cleanups.push(() => queue.close())
      const app = await buildApp({config: {task: {defaultIterations: 10, maxIterations: 10}}, queue})
      cleanups.push(() => app.close())
      const started = Date.now()
      const add = await app.inject({method: 'POST', url: '/api/tasks/add'})
      expect(add.statusCode).toBe(503)
      expect((await app.inject({method: 'GET', url: '/readyz'})).statusCode).toBe(503)
      // Not hanging until Redis returns (ioredis would queue the command forever): a deadline, not a speed.
      expect(Date.now() - started).toBeLessThan(30_000)
      await redis.restart()
      restarted = true
      await waitFor(async () => (await app.inject({method: 'GET', url: '/readyz'})).statusCode === 200, {timeoutMs: 10_000, what: 'readyz 200'})
      expect((await app.inject({method: 'POST', url: '/api/tasks/add'})).statusCode).toBe(200)
    } finally {
      if (!restarted) await redis.restart()
    }
  })

  it('answers 503 fast while Redis is down, readyz fails, and recovers by itself when Redis returns', async () => {
    const {app} = await makeApi()
    const {id} = (await app.inject({method: 'POST', url: '/api/tasks/add'})).json().result
    await redis.kill()
    try {
      for (const request of [
        {method: 'POST' as const, url: '/api/tasks/add'},
        {method: 'POST' as const, url: '/api/tasks'},
        {method: 'GET' as const, url: `/api/tasks/status/${id}`},
        {method: 'GET' as const, url: `/api/tasks/${id}`},
        {method: 'GET' as const, url: '/api/queue'},
      ]) {
        const started = Date.now()
        const response = await app.inject(request)
        // Answered while Redis is still down (not queued until it returns): a deadline, not a speed.
        expect(Date.now() - started, `${request.method} ${request.url}`).toBeLessThan(30_000)
        expect(response.statusCode).toBe(503)
        expect(response.headers['retry-after']).toBe('1')
        expect(response.headers['content-type']).toBe('application/json')
        expect(response.json()).toEqual({
          success: false,
          error: {message: 'Service Unavailable: the task queue (Redis) is not reachable. Retry shortly.'},
        })
      }
      const ready = await app.inject({method: 'GET', url: '/readyz'})
      expect(ready.statusCode).toBe(503)
      expect(ready.json()).toEqual({success: false, error: {message: 'Not ready: Redis is not reachable.'}})
      expect((await app.inject({method: 'GET', url: '/healthz'})).statusCode).toBe(200)
    } finally {
      await redis.restart()
    }
    // The server came back empty (no persistence): new tasks work, readyz is green again.
    await waitFor(async () => (await app.inject({method: 'GET', url: '/readyz'})).statusCode === 200, {timeoutMs: 10_000, what: 'readyz 200 again'})
    const again = await app.inject({method: 'POST', url: '/api/tasks/add'})
    expect(again.statusCode).toBe(200)
    const status = await app.inject({method: 'GET', url: `/api/tasks/status/${again.json().result.id}`})
    expect(status.json().result.progress.status).toBe('Queued')
  })
})
