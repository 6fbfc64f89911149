import {createServer, type Server} from 'node:http'

import {afterEach, describe, expect, it} from 'vitest'

import type {ExecutorConfig} from '../../src/lab/loadtest/executors.js'
import type {SecondRecord} from '../../src/lab/loadtest/records.js'
import {runLoadTest} from '../../src/lab/loadtest/run.js'
import {parseThreshold} from '../../src/lab/loadtest/thresholds.js'

/**
 * The engine's mechanics (open-model drops, honest rates, --abort-on-fail, the record stream)
 * against a loopback server speaking the API's original contract, whose speed and answers the test
 * chooses: the real API cannot be made slow or wrong on demand. Against the real API, see
 * test/e2e/loadtest-dev.test.ts.
 */

let server: Server | undefined
afterEach(() => {
  server?.closeAllConnections()
  server?.close()
  server = undefined
})

async function startApi(options: {addDelayMs?: number; contentType?: string; hangAdd?: (n: number) => boolean} = {}): Promise<string> {
  let n = 0
  server = createServer((req, res) => {
    const send = (body: unknown) => {
      res.writeHead(200, {'content-type': options.contentType ?? 'application/json'})
      res.end(JSON.stringify(body))
    }
    if (req.method === 'POST' && req.url === '/api/tasks/add') {
      const id = `task-${++n}`
      if (options.hangAdd?.(n)) return // never answered: only the hard stop ends this request
      setTimeout(() => send({success: true, result: {id, message: 'Task queued.'}}), options.addDelayMs ?? 0)
      return
    }
    send({success: true, result: {progress: {status: 'Completed', progress: '100.0', timeElapsed: '0.0100'}}})
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as {port: number}).port}`
}

const target = (url: string) => ({url, source: 'flag' as const, reason: 'test'})

describe('the load engine', () => {
  it('open model: what --max-vus cannot hold is dropped and counted, the achieved rate is reported as such, rate>99% fails', async () => {
    const url = await startApi({addDelayMs: 250})
    const executor: ExecutorConfig = {type: 'constant-arrival-rate', rate: 20, durationMs: 2000, maxVUs: 2, gracefulStopMs: 5000}
    const records: SecondRecord[] = []
    const summary = await runLoadTest(
      {profile: 'test', executor, target: target(url), thresholds: ['rate>99%', 'dropped.count>=1'].map(parseThreshold), timeScale: 0.01, version: 'test'},
      {onRecord: (r) => records.push(r)},
    )
    // 20/s for 2 s: 40 starts were due; each one either started or was dropped.
    expect(summary.iterations.started + summary.iterations.dropped).toBe(40)
    // Two in flight at most, each at least 250 ms: no more than about 8 a second can start.
    expect(summary.iterations.dropped).toBeGreaterThan(0)
    expect(summary.iterations.completed).toBe(summary.iterations.started)
    expect(summary.rate?.asked).toBe(20)
    expect(summary.rate?.achieved).toBe(summary.iterations.started / 2)
    expect(summary.thresholds.map((t) => [t.expression, t.ok])).toEqual([
      ['rate>99%', false],
      ['dropped.count>=1', true],
    ])
    expect(summary.exitCode).toBe(99)
    // The records add up to the summary.
    expect(records.reduce((n, r) => n + r.droppedIterations, 0)).toBe(summary.iterations.dropped)
    expect(records.reduce((n, r) => n + r.iterationsStarted, 0)).toBe(summary.iterations.started)
    expect(records.every((r) => r.targetRate !== undefined && r.schedulerLagP99 !== undefined)).toBe(true)
  }, 30_000)

  it('--abort-on-fail stops at the first failed live threshold', async () => {
    const url = await startApi({contentType: 'application/json; charset=utf-8'})
    const executor: ExecutorConfig = {type: 'constant-vus', vus: 1, durationMs: 60_000, gracefulStopMs: 1000}
    const summary = await runLoadTest({
      profile: 'test',
      executor,
      target: target(url),
      thresholds: ['checks>99%', 'add.p95<10s'].map(parseThreshold),
      abortOnFail: true,
      timeScale: 0.01,
      version: 'test',
    })
    expect(summary.interrupted).toBe(true)
    expect(summary.abortedBy).toBe('checks>99%')
    expect(summary.exitCode).toBe(99)
    expect(summary.thresholds.find((t) => t.expression === 'checks>99%')?.ok).toBe(false)
    // It did not run its minute.
    expect(summary.loadDurationS).toBeLessThan(30)
  }, 60_000)

  it('emits one record a second, in order, each with the sample taken as its second began (record 0: the baseline)', async () => {
    const url = await startApi()
    let calls = 0
    const records: SecondRecord[] = []
    const summary = await runLoadTest(
      {
        profile: 'test',
        executor: {type: 'constant-vus', vus: 2, durationMs: 2500, gracefulStopMs: 1000},
        target: target(url),
        thresholds: [],
        timeScale: 0.01,
        version: 'test',
      },
      {
        onRecord: (r) => records.push(r),
        sample: async () => ({source: 'queue-only', queueWaiting: calls++}),
        scalingFacts: () => ({source: 'queue-only', events: [], backlogPeak: Math.max(...records.map((r) => r.scaling?.queueWaiting ?? 0))}),
      },
    )
    expect(records.map((r) => r.t)).toEqual(records.map((_, i) => i))
    expect(records.length).toBeGreaterThanOrEqual(3)
    expect(records.map((r) => r.scaling?.queueWaiting)).toEqual(records.map((_, i) => i))
    // The facts function is asked at the end, after the last record.
    expect(summary.scaling.backlogPeak).toBe(records.length - 1)
    expect(records.reduce((n, r) => n + r.requests.add, 0)).toBe(summary.requests.add)
    expect(records.reduce((n, r) => n + r.tasksCompleted, 0)).toBe(summary.tasks.completed)
    expect(records.reduce((n, r) => n + (r.taskLatency?.count ?? 0), 0)).toBe(summary.tasks.completed)
    expect(summary.latency.add?.count).toBe(summary.requests.add)
    expect(Object.keys(summary.histograms).sort()).toEqual(['add', 'add.fromSend', 'lag', 'status', 'status.fromSend', 'task', 'task.elapsed'])
  }, 30_000)

  it('the hard stop interrupts what is in flight: a request that is never answered and the pause before the first poll', async () => {
    // The first add hangs; the second is answered and its iteration sleeps the scenario's 2 s.
    const url = await startApi({hangAdd: (n) => n === 1})
    const records: SecondRecord[] = []
    const summary = await runLoadTest(
      {
        profile: 'test',
        executor: {type: 'constant-vus', vus: 2, durationMs: 300, gracefulStopMs: 200},
        target: target(url),
        thresholds: [],
        timeScale: 1,
        version: 'test',
      },
      {onRecord: (r) => records.push(r)},
    )
    expect(summary.iterations).toMatchObject({started: 2, completed: 0, failed: 0, interrupted: 2})
    // The answered add is measured; the hanging one is not a response, and no poll was sent.
    expect(summary.requests).toEqual({add: 1, status: 0})
    expect(summary.errors).toBe(0)
    expect(summary.interrupted).toBe(false)
  }, 30_000)

  it('ramping VUs: a VU ramped down with a graceful ramp-down of 0 has its iteration interrupted at once', async () => {
    const url = await startApi({hangAdd: () => true})
    const summary = await runLoadTest({
      profile: 'test',
      executor: {
        type: 'ramping-vus',
        startVUs: 2,
        stages: [
          {durationMs: 200, target: 2},
          {durationMs: 0, target: 1},
          {durationMs: 200, target: 1},
        ],
        gracefulRampDownMs: 0,
        gracefulStopMs: 100,
      },
      target: target(url),
      thresholds: [],
      timeScale: 1,
      version: 'test',
    })
    // Both adds hang: VU 2 is cut by the ramp-down, VU 1 by the end of the graceful stop.
    expect(summary.iterations).toMatchObject({started: 2, completed: 0, interrupted: 2})
    expect(summary.requests.add).toBe(0)
  }, 30_000)
})
