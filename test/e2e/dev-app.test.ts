import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, descendants, isAlive, request, startDev} from './dev-harness.js'

/**
 * `keda-lab dev` as a user runs it: a real redis-server, the real API and a real worker as child
 * processes, real HTTP. Tasks are small (--task-iterations) so that each finishes in about a second.
 */

const TASK_ITERATIONS = '20000000'

let dev: DevRun
let api: string
let childPids: number[] = []

beforeAll(async () => {
  dev = startDev(['--api-port', '0', '--workers', '1', '--task-iterations', TASK_ITERATIONS])
  api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1]!
  await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+started worker-1 \(pid \d+\)/)
}, 120_000)

afterAll(async () => {
  await cleanupDev(dev)
})

/** Polls the original status endpoint until the task is Completed, checking every answer's shape. */
async function pollLegacy(id: string) {
  const seen: {status: string; progress: number; timeElapsed: number}[] = []
  await waitFor(
    async () => {
      const res = await request(`${api}/api/tasks/status/${id}`)
      expect(res.status).toBe(200)
      expect(res.contentType).toMatch(/^application\/json\b/)
      const body = res.body as {success: boolean; result: {progress: {status: string; progress: string; timeElapsed: string}}}
      // Exactly the original shape: no extra keys anywhere.
      expect(Object.keys(body)).toEqual(['success', 'result'])
      expect(body.success).toBe(true)
      expect(Object.keys(body.result)).toEqual(['progress'])
      expect(Object.keys(body.result.progress).sort()).toEqual(['progress', 'status', 'timeElapsed'])
      const {status, progress, timeElapsed} = body.result.progress
      expect(['Queued', 'Processing', 'Completed', 'Failed']).toContain(status)
      expect(progress).toMatch(/^\d{1,3}\.\d$/)
      expect(timeElapsed).toMatch(/^\d+\.\d{4}$/)
      const point = {status, progress: Number(progress), timeElapsed: Number(timeElapsed)}
      const previous = seen.at(-1)
      if (previous) {
        // Never backwards while a client polls.
        expect(point.progress).toBeGreaterThanOrEqual(previous.progress)
        expect(point.timeElapsed).toBeGreaterThanOrEqual(previous.timeElapsed)
      }
      seen.push(point)
      expect(status).not.toBe('Failed')
      return status === 'Completed'
    },
    {timeoutMs: 60_000, intervalMs: 50, what: `task ${id} to complete`},
  )
  return seen
}

describe('keda-lab dev: the original API contract, to the letter', () => {
  it('POST /api/tasks/add ignores its body as the original did: malformed JSON is queued, not refused (the modern route still says 400)', async () => {
    for (const payload of ['{"iterations": ', 'not json at all', '[1, 2', '']) {
      const res = await request(`${api}/api/tasks/add`, {method: 'POST', headers: {'content-type': 'application/json'}, body: payload})
      expect(res.status, payload).toBe(200)
      expect((res.body as {result: {message: string}}).result.message).toBe('Task queued.')
    }
    const modern = await request(`${api}/api/tasks`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"iterations": '})
    expect(modern.status).toBe(400)
    expect((modern.body as {error: {message: string}}).error.message).toMatch(/^Invalid JSON body/)
  })

  it('POST /api/tasks/add queues a task and GET /api/tasks/status/:id follows it to 100.0', async () => {
    const res = await request(`${api}/api/tasks/add`, {method: 'POST'})
    expect(res.status).toBe(200)
    expect(res.contentType).toMatch(/^application\/json\b/)
    const body = res.body as {success: boolean; result: {id: string; message: string}}
    expect(Object.keys(body)).toEqual(['success', 'result'])
    expect(Object.keys(body.result)).toEqual(['id', 'message'])
    expect(body.success).toBe(true)
    expect(body.result.message).toBe('Task queued.')
    expect(body.result.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)

    const seen = await pollLegacy(body.result.id)
    const last = seen.at(-1)!
    expect(last.status).toBe('Completed')
    expect(last.progress).toBe(100)
    expect(last.timeElapsed).toBeGreaterThan(0)
    // A task of about a second is seen on its way, not only finished: intermediate progress.
    expect(seen.some((p) => p.status === 'Processing' && p.progress > 0 && p.progress < 100)).toBe(true)
  })

  it('an unknown id is a 404 with the original error shape', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', '..%2F..%2Fetc%2Fpasswd', 'x'.repeat(500)]) {
      const res = await request(`${api}/api/tasks/status/${id}`)
      expect(res.status, id).toBe(404)
      expect(res.contentType).toMatch(/^application\/json\b/)
      expect(res.body).toEqual({success: false, error: {message: 'Task not found.'}})
    }
  })
})

describe('keda-lab dev: the modern API beside it', () => {
  it('POST /api/tasks (202, link) and GET /api/tasks/:id to Completed, typed fields', async () => {
    const res = await request(`${api}/api/tasks`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({iterations: 5_000_000}),
    })
    expect(res.status).toBe(202)
    expect(res.contentType).toMatch(/^application\/json\b/)
    const created = res.body as {id: string; status: string; links: {self: string}}
    expect(created.status).toBe('Queued')
    expect(created.links.self).toBe(`/api/tasks/${created.id}`)

    let lastProgress = -1
    const task = await waitFor(
      async () => {
        const r = await request(`${api}${created.links.self}`)
        expect(r.status).toBe(200)
        const t = r.body as {
          status: string
          progress: number
          iterations: number
          queuedAt: string
          startedAt: string | null
          finishedAt: string | null
          attempts: number
          elapsedSeconds: number
        }
        expect(typeof t.progress).toBe('number')
        expect(t.progress).toBeGreaterThanOrEqual(lastProgress)
        lastProgress = t.progress
        expect(t.status).not.toBe('Failed')
        return t.status === 'Completed' ? t : undefined
      },
      {timeoutMs: 60_000, intervalMs: 50, what: 'the modern task to complete'},
    )
    expect(task.progress).toBe(100)
    expect(task.iterations).toBe(5_000_000)
    expect(task.attempts).toBeGreaterThanOrEqual(1)
    expect(typeof task.elapsedSeconds).toBe('number')
    for (const time of [task.queuedAt, task.startedAt, task.finishedAt]) expect(new Date(time!).toISOString()).toBe(time)

    // The legacy endpoint reads the same task.
    const legacy = await request(`${api}/api/tasks/status/${created.id}`)
    expect((legacy.body as {result: {progress: {progress: string}}}).result.progress.progress).toBe('100.0')
  })

  it('serves the docs and the queue view at the URLs it printed', async () => {
    const docs = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+Docs\s+(\S+)/))[1]!
    expect((await request(docs)).status).toBe(200)
    expect((await request(`${api}/openapi.json`)).status).toBe(200)
    const queue = await request(`${api}/api/queue`)
    expect(queue.status).toBe(200)
    expect((queue.body as {workers: number}).workers).toBeGreaterThanOrEqual(1)
    const metrics = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+Metrics\s+api (http:\S+\/metrics)/))[1]!
    expect((await request(metrics)).text).toMatch(/^# HELP /m)
  })
})

describe('keda-lab dev: logs and shutdown', () => {
  it('streams prefixed lines from redis, the API and the worker', () => {
    const text = dev.output()
    expect(text).toMatch(/^\[redis\]\s+\S/m)
    expect(text).toMatch(/^\[api\]\s+\S/m)
    expect(text).toMatch(/^\[worker-1\]\s+\S/m)
  })

  it('stops every process it started on Ctrl-C (SIGINT), leaving none behind', async () => {
    childPids = descendants(dev.child.pid!)
    // redis-server, the API and the worker at least.
    expect(childPids.length).toBeGreaterThanOrEqual(3)
    dev.child.kill('SIGINT')
    const exit = await dev.exited
    expect(exit.code, dev.output().slice(-3000)).toBe(0)
    expect(dev.output()).toMatch(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+stopped .*redis/m)
    await waitFor(() => childPids.every((pid) => !isAlive(pid)), {timeoutMs: 5000, what: 'every child to be gone'})
    expect(childPids.filter(isAlive)).toEqual([])
  }, 60_000)
})
