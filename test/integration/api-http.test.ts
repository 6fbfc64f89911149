import {randomUUID} from 'node:crypto'
import {connect} from 'node:net'

import {Worker} from 'bullmq'
import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {freePort, stopProcess, waitFor} from '../helpers/processes.js'
import {type RedisServer, startRedis} from '../helpers/redis.js'
import {type ServeProcess, startServe} from '../helpers/serve.js'

const PASSWORD = `pw-${randomUUID()}`

/** Sends one raw HTTP/1.1 request and returns the response exactly as the bytes came (head and body). */
function rawRequest(port: number, method: string, path: string): Promise<{head: string; body: string}> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const split = text.indexOf('\r\n\r\n')
      resolve({head: text.slice(0, split), body: text.slice(split + 4)})
    })
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  })
}
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

describe('keda-lab serve api over real HTTP (spawned CLI, password-protected redis-server)', () => {
  let redis: RedisServer
  let api: ServeProcess
  let base: string
  let metricsBase: string
  const queueName = `test-${randomUUID()}`

  beforeAll(async () => {
    redis = await startRedis({password: PASSWORD})
    const [port, metricsPort] = [await freePort(), await freePort()]
    base = `http://127.0.0.1:${port}`
    metricsBase = `http://127.0.0.1:${metricsPort}`
    api = await startServe(
      'api',
      {
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        REDIS_URL: redis.url,
        REDIS_PASSWORD: PASSWORD,
        QUEUE_NAME: queueName,
        TASK_ITERATIONS: '1000',
      },
      {ready: {http: `${base}/readyz`}, timeoutMs: 30_000},
    )
  }, 60_000)

  afterAll(async () => {
    if (api) await stopProcess(api.child)
    await redis?.stop()
  })

  it('keeps the original contract to the byte, serves metrics on their own port, logs task ids and never the password, exits 0 on SIGTERM', async () => {
    const added = await fetch(`${base}/api/tasks/add`, {method: 'POST'})
    expect(added.status).toBe(200)
    expect(added.headers.get('content-type')).toBe('application/json')
    const addedText = await added.text()
    expect(addedText).toMatch(new RegExp(`^\\{"success":true,"result":\\{"id":"${UUID}","message":"Task queued\\."\\}\\}$`))
    const id = JSON.parse(addedText).result.id as string

    const queued = await (await fetch(`${base}/api/tasks/status/${id}`)).text()
    expect(queued).toBe('{"success":true,"result":{"progress":{"status":"Queued","progress":"0.0","timeElapsed":"0.0000"}}}')

    // Stand-in for the worker: 100 steps with progress, like the real one.
    const connection = new Redis({host: '127.0.0.1', port: redis.port, password: PASSWORD, maxRetriesPerRequest: null})
    const worker = new Worker(
      queueName,
      async (job) => {
        expect(job.name).toBe('long_task')
        expect(job.data).toMatchObject({iterations: 1000})
        for (let step = 1; step <= 100; step++) {
          await new Promise((resolve) => setTimeout(resolve, 2))
          await job.updateProgress(step)
        }
      },
      {connection},
    )
    try {
      let previous = {progress: 0, elapsed: 0}
      const done = await waitFor(
        async () => {
          const response = await fetch(`${base}/api/tasks/status/${id}`)
          const text = await response.text()
          expect(text).toMatch(
            /^\{"success":true,"result":\{"progress":\{"status":"(Queued|Processing|Completed)","progress":"\d{1,3}\.\d","timeElapsed":"\d+\.\d{4}"\}\}\}$/,
          )
          const {status, progress, timeElapsed} = JSON.parse(text).result.progress
          expect(Number(progress)).toBeGreaterThanOrEqual(previous.progress)
          expect(Number(timeElapsed)).toBeGreaterThanOrEqual(previous.elapsed)
          previous = {progress: Number(progress), elapsed: Number(timeElapsed)}
          return status === 'Completed' ? text : undefined
        },
        {intervalMs: 20, what: 'task completed'},
      )
      expect(done).toMatch(/"progress":"100\.0"/)
    } finally {
      await worker.close()
      connection.disconnect()
    }

    const missing = await fetch(`${base}/api/tasks/status/${randomUUID()}`)
    expect(missing.status).toBe(404)
    expect(await missing.text()).toBe('{"success":false,"error":{"message":"Task not found."}}')

    const metrics = await (await fetch(`${metricsBase}/metrics`)).text()
    expect(metrics).toContain('keda_lab_api_tasks_enqueued_total{api="legacy"} 1')
    expect(metrics).toContain(`keda_lab_queue_jobs{queue="${queueName}",state="completed"} 1`)
    expect((await fetch(`${base}/metrics`)).status).toBe(404)

    await stopProcess(api.child, 'SIGTERM', 10_000)
    expect(api.child.exitCode).toBe(0)
    const lines = api
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.find((line) => line.msg === 'task queued')).toMatchObject({taskId: id, service: 'api', iterations: 1000})
    expect(lines.at(-1)).toMatchObject({msg: 'stopped'})
    expect(api.stdout() + api.stderr()).not.toContain(PASSWORD)
  })

  it('stops with one clear line (variable, problem, example) and no stack trace on a bad variable', async () => {
    for (const [env, expected] of [
      [{PORT: 'eighty'}, 'Error: PORT is "eighty": must be a number; set it like PORT=8000'],
      [{TASK_ATTEMPTS: '0'}, 'Error: TASK_ATTEMPTS is "0": must be at least 1; set it like TASK_ATTEMPTS=1'],
      [
        {REDIS_URL: 'localhost:6379'},
        'Error: REDIS_URL is "localhost:6379": must be a redis:// or rediss:// URL; set it like REDIS_URL=redis://127.0.0.1:6379',
      ],
    ] as const) {
      const result = await runCli(['serve', 'api'], {env: {...env, REDIS_PASSWORD: PASSWORD}, timeoutMs: 30_000})
      expect(result.code).not.toBe(0)
      expect(result.stderr.trim()).toBe(expected)
      expect(result.stdout).toBe('')
    }
  })
})

describe('keda-lab serve api: exact headers and hostile URLs over raw HTTP (spawned CLI, real redis-server)', () => {
  let redis: RedisServer
  let api: ServeProcess
  let port: number
  let base: string

  beforeAll(async () => {
    redis = await startRedis()
    port = await freePort()
    base = `http://127.0.0.1:${port}`
    api = await startServe(
      'api',
      {HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(await freePort()), REDIS_URL: redis.url, QUEUE_NAME: `test-${randomUUID()}`},
      {ready: {http: `${base}/readyz`}, timeoutMs: 30_000},
    )
  }, 60_000)

  afterAll(async () => {
    if (api) await stopProcess(api.child)
    await redis?.stop()
  })

  it('sends exactly "Content-Type: application/json" on the original routes whatever the status, and refuses a 100,000-character id in the error envelope', async () => {
    const header = /\r\nContent-Type: ([^\r]*)\r\n/i
    const added = await rawRequest(port, 'POST', '/api/tasks/add')
    expect(added.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(header.exec(added.head)?.[1]).toBe('application/json')
    const id = JSON.parse(added.body).result.id as string
    for (const [method, path, status] of [
      ['GET', `/api/tasks/status/${id}`, '200 OK'],
      ['GET', `/api/tasks/status/${id.toUpperCase()}`, '200 OK'],
      ['GET', `/api/tasks/status/${randomUUID()}`, '404 Not Found'],
      ['GET', '/api/tasks/status/not-a-task', '404 Not Found'],
      ['GET', `/api/tasks/status/${'a'.repeat(5000)}`, '404 Not Found'],
      ['GET', '/api/tasks/add', '405 Method Not Allowed'],
      ['DELETE', `/api/tasks/status/${id}`, '405 Method Not Allowed'],
    ] as const) {
      const response = await rawRequest(port, method, path)
      expect(response.head, `${method} ${path.slice(0, 60)}`).toMatch(new RegExp(`^HTTP/1\\.1 ${status}\r\n`))
      expect(header.exec(response.head)?.[1], `${method} ${path.slice(0, 60)}`).toBe('application/json')
      expect(JSON.parse(response.body).success).toBe(status === '200 OK')
    }
    // Over Node's 16 KiB limit for the request line: refused before routing, still in the API's shape.
    const huge = await rawRequest(port, 'GET', `/api/tasks/status/${'a'.repeat(100_000)}`)
    expect(huge.head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
    expect(header.exec(huge.head)?.[1]).toBe('application/json')
    expect(JSON.parse(huge.body)).toEqual({
      success: false,
      error: {message: 'The request line and headers are too large (16 KiB at most). Task ids are UUIDs: check the URL.'},
    })
    // The API is still serving.
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
  })
})
