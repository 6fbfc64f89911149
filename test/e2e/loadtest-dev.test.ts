import type {ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {LoadSummary} from '../../src/lab/loadtest/records.js'
import {cliEntry, repoRoot, runCli} from '../helpers/cli.js'
import {spawnTracked, stopProcess, waitFor} from '../helpers/processes.js'
import {type DevRun, cleanupDev, request, startDev} from './dev-harness.js'

/**
 * `keda-lab loadtest` as a user runs it, against a real `keda-lab dev` (real redis-server, API and
 * workers): every profile at a small --time-scale, found through dev's state file. Tasks are tiny
 * (--task-iterations 200000, a few ms of CPU) so the suite's added time stays small.
 */

let dev: DevRun
let api: string
const stateDir = mkdtempSync(join(tmpdir(), 'keda-lab-loadtest-state-'))
const env = {KEDA_LAB_STATE_DIR: stateDir}

beforeAll(async () => {
  dev = startDev(['--api-port', '0', '--workers', '2', '--task-iterations', '200000', '--log-level', 'warn'], env)
  api = (await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 90_000))[1] as string
  await dev.waitForLine(/^\[dev\]\s+\d\d:\d\d:\d\d\.\d{3}\s+started worker-2 \(pid \d+\)/)
}, 120_000)

afterAll(async () => {
  await cleanupDev(dev)
  rmSync(stateDir, {recursive: true, force: true})
})

async function loadtest(args: string[], timeoutMs = 120_000): Promise<{code: number | null; summary: LoadSummary; stderr: string}> {
  const result = await runCli(['loadtest', '--json', ...args], {env, timeoutMs})
  let summary: LoadSummary
  try {
    summary = JSON.parse(result.stdout) as LoadSummary
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}):\n${result.stdout.slice(0, 2000)}\nstderr:\n${result.stderr.slice(-2000)}`)
  }
  return {code: result.code, summary, stderr: result.stderr}
}

/** Tasks the dev stack's queue has seen: completed, waiting and active. */
async function queuedSoFar(): Promise<number> {
  const {counts} = (await request(`${api}/api/queue`)).body as {counts: {completed: number; waiting: number; active: number}}
  return counts.completed + counts.waiting + counts.active
}

function expectEveryCheckPassed(summary: LoadSummary) {
  const names = Object.keys(summary.checks)
  expect(names.length).toBeGreaterThan(0)
  for (const [name, c] of Object.entries(summary.checks)) expect({name, fails: c.fails}).toEqual({name, fails: 0})
  expect(summary.errors).toBe(0)
}

describe('keda-lab loadtest against keda-lab dev', () => {
  const exact: [profile: string, iterations: number][] = [
    ['smoke', 10],
    ['shared-20', 20],
    ['shared-50', 50],
    ['per-vu', 105],
  ]
  for (const [profile, iterations] of exact) {
    it(`${profile}: exactly ${iterations} adds and ${iterations} completions, every check passing`, async () => {
      const {code, summary, stderr} = await loadtest(['--profile', profile, '--time-scale', '0.05', '--watch-after', '0', '--threshold', 'checks==100%'])
      expect(stderr.split('\n')[0]).toBe(
        `Target: ${api} — the keda-lab dev running on this machine (pid ${dev.child.pid}, started ${stderr.match(/started ([^)]+)\)/)?.[1]})`,
      )
      expect(code).toBe(0)
      expect(summary.profile).toBe(profile)
      expect(summary.target).toMatchObject({url: api, source: 'dev'})
      expect(summary.iterations).toEqual({started: iterations, completed: iterations, failed: 0, dropped: 0, interrupted: 0})
      expect(summary.requests.add).toBe(iterations)
      expect(summary.tasks).toEqual({queued: iterations, completed: iterations, failed: 0})
      expect(summary.checks['add: status is 200']).toEqual({passes: iterations, fails: 0})
      // Every task was polled at least once, to Completed.
      expect(summary.requests.status).toBeGreaterThanOrEqual(iterations)
      expect(summary.latency.task?.count).toBe(iterations)
      expectEveryCheckPassed(summary)
      expect(summary.thresholds).toEqual([{expression: 'checks==100%', ok: true, actual: '100%'}])
    }, 180_000)
  }

  for (const [profile, scale] of [
    ['ramp', '0.05'],
    ['spike', '0.05'],
    ['backlog', '0.05'],
    ['soak', '0.005'],
  ] as const) {
    it(`${profile} at --time-scale ${scale} completes with every check passing`, async () => {
      const {code, summary} = await loadtest(['--profile', profile, '--time-scale', scale, '--watch-after', '0'])
      expect(code).toBe(0)
      expect(summary.interrupted).toBe(false)
      const it = summary.iterations
      expect(it.started).toBeGreaterThan(0)
      expect(it.failed).toBe(0)
      // Every iteration that started ended one way or the other.
      expect((it.interrupted ?? 0) + it.completed + it.failed).toBe(it.started)
      // `requests` counts responses: an iteration interrupted while its add was in flight (ramp's
      // graceful ramp-down 0) started but got no add response, so it is the only allowed gap.
      expect(summary.requests.add).toBeLessThanOrEqual(it.started)
      expect(summary.requests.add).toBeGreaterThanOrEqual(it.started - (it.interrupted ?? 0))
      expectEveryCheckPassed(summary)
      if (profile === 'backlog' || profile === 'soak') {
        // The open model: the schedule was met (nothing dropped, the achieved rate is the asked one).
        expect(it.dropped).toBe(0)
        expect(summary.rate?.achieved).toBeCloseTo(summary.rate?.asked ?? -1, 1)
        expect(summary.schedulerLag?.count).toBe(it.started)
      }
      if (profile === 'ramp') {
        // Graceful ramp-down 0: what the ramp-down caught was interrupted, and said so.
        expect(summary.executor).toMatchObject({type: 'ramping-vus', gracefulRampDownMs: 0})
      }
    }, 180_000)
  }

  it('--shard 2/3 runs its slice; --task-iterations queues through the typed route', async () => {
    const {code, summary} = await loadtest([
      '--profile',
      'smoke',
      '--shard',
      '2/3',
      '--task-iterations',
      '100000',
      '--time-scale',
      '0.05',
      '--watch-after',
      '0',
    ])
    expect(code).toBe(0)
    expect(summary.shard).toEqual({index: 2, count: 3})
    // smoke's 10 iterations split 3 + 3 + 4: the last shard runs 4.
    expect(summary.executor).toMatchObject({type: 'shared-iterations', iterations: 4})
    expect(summary.iterations).toMatchObject({started: 4, completed: 4})
    expect(summary.checks['add: status is 202']).toEqual({passes: 4, fails: 0})
    expect(summary.checks['add: status is "Queued"']).toEqual({passes: 4, fails: 0})
    expect(summary.checks['add: status is 200']).toBeUndefined()
    expectEveryCheckPassed(summary)
  }, 120_000)

  it('fails a bad flag before any request, with one line', async () => {
    const before = await queuedSoFar()
    const result = await runCli(['loadtest', '--profile', 'ramp', '--threshold', 'add.p95<fast'], {env})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/^Error: --threshold 'add.p95<fast': not METRIC\[.AGGREGATE\] OP VALUE\nFix: /)
    const bad = await runCli(['loadtest', '--target', 'ftp://127.0.0.1:1'], {env})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^Error: --target ftp:\/\/127.0.0.1:1: only http:\/\/ and https:\/\/ URLs are supported/)
    // Nothing was queued by either.
    expect(await queuedSoFar()).toBe(before)
  }, 60_000)

  it('Ctrl-C stops starting, waits for what is in flight, and prints the summary of what ran (exit 130)', async () => {
    const child = spawnTracked(process.execPath, [cliEntry(), 'loadtest', '--profile', 'soak', '--json'], {
      cwd: repoRoot,
      env: {...process.env, ...env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out = collect(child)
    const before = await queuedSoFar()
    // The run has queued tasks: it is under way.
    await waitFor(async () => (await queuedSoFar()) >= before + 2, {timeoutMs: 60_000, what: 'the soak run to queue two tasks'})
    child.kill('SIGINT')
    const {code} = await out.exited
    expect(code).toBe(130)
    expect(out.stderr()).toContain('Stopping: no new iterations')
    const summary = JSON.parse(out.stdout()) as LoadSummary
    expect(summary.interrupted).toBe(true)
    expect(summary.exitCode).toBe(130)
    expect(summary.iterations.started).toBeGreaterThanOrEqual(2)
    expect(summary.iterations.completed + summary.iterations.failed + (summary.iterations.interrupted ?? 0)).toBe(summary.iterations.started)
    // It stopped long before the profile's 10 minutes.
    expect(summary.loadDurationS).toBeLessThan(600)
  }, 120_000)
})

describe('keda-lab loadtest against stand-in APIs (loopback)', () => {
  let server: Server | undefined
  /** Adds the stand-in has received (answered or not). */
  let addsReceived = 0
  afterAll(() => server?.close())

  /** A tiny API with the original contract, but what it sends as Content-Type is given. */
  async function startApi(contentType: string, stallAdds = false): Promise<string> {
    let n = 0
    server = createServer((req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, {'content-type': contentType})
        res.end(JSON.stringify(body))
      }
      if (req.url === '/readyz') return send(200, {status: 'ok'})
      if (req.method === 'POST' && req.url === '/api/tasks/add') {
        addsReceived++
        if (stallAdds) return // never answers
        return send(200, {success: true, result: {id: `task-${++n}`, message: 'Task queued.'}})
      }
      if (req.method === 'GET' && req.url?.startsWith('/api/tasks/status/'))
        return send(200, {success: true, result: {progress: {status: 'Completed', progress: '100.0', timeElapsed: '0.0100'}}})
      send(404, {success: false})
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const address = server.address() as {port: number}
    return `http://127.0.0.1:${address.port}`
  }

  /** Two iterations against a stand-in API, judged by `checks>99%`. */
  const twoIterationsAgainst = (url: string) => [
    '--target',
    url,
    '--vus',
    '1',
    '--iterations',
    '2',
    '--time-scale',
    '0.05',
    '--watch-after',
    '0',
    '--threshold',
    'checks>99%',
  ]

  it('an API answering application/json; charset=utf-8 fails the content-type check, and checks>99% exits 99', async () => {
    const url = await startApi('application/json; charset=utf-8')
    try {
      const {code, summary, stderr} = await loadtest(twoIterationsAgainst(url))
      expect(stderr.split('\n')[0]).toBe(`Target: ${url} — given with --target`)
      expect(code).toBe(99)
      expect(summary.exitCode).toBe(99)
      expect(summary.checks['add: content-type is application/json']).toEqual({passes: 0, fails: 2})
      expect(summary.checks['status: content-type is application/json']).toEqual({passes: 0, fails: 2})
      expect(summary.checks['add: success is true']).toEqual({passes: 2, fails: 0})
      expect(summary.iterations.completed).toBe(2)
      expect(summary.thresholds).toEqual([{expression: 'checks>99%', ok: false, actual: '77.778%'}])
    } finally {
      server?.close()
    }
  }, 60_000)

  it('the same run with the exact content type passes', async () => {
    const url = await startApi('application/json')
    try {
      const {code, summary} = await loadtest(twoIterationsAgainst(url))
      expect(code).toBe(0)
      expect(summary.thresholds).toEqual([{expression: 'checks>99%', ok: true, actual: '100%'}])
    } finally {
      server?.close()
    }
  }, 60_000)

  it('a second Ctrl-C exits at once, without waiting for what is in flight', async () => {
    const url = await startApi('application/json', true)
    addsReceived = 0
    try {
      const child = spawnTracked(
        process.execPath,
        [cliEntry(), 'loadtest', '--target', url, '--vus', '2', '--duration', '10m', '--stop-grace', '10m', '--json'],
        {
          cwd: repoRoot,
          env: {...process.env, ...env, NO_COLOR: '1'},
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      const out = collect(child)
      // Both VUs' adds are in flight (and will never be answered).
      await waitFor(() => addsReceived >= 2, {timeoutMs: 60_000, what: 'two adds in flight'})
      child.kill('SIGINT')
      // The first Ctrl-C leaves the two stalled adds ten minutes to finish…
      await waitFor(() => out.stderr().includes('Stopping: no new iterations'), {timeoutMs: 30_000, what: 'the first Ctrl-C to be seen'})
      // …the second does not wait for them.
      child.kill('SIGINT')
      const {code} = await out.exited
      expect(code).toBe(130)
      expect(out.stdout()).toBe('')
      await stopProcess(child)
    } finally {
      server?.close()
    }
  }, 120_000)
})

function collect(child: ChildProcess) {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => (stdout += d))
  child.stderr?.on('data', (d) => (stderr += d))
  const exited = new Promise<{code: number | null}>((resolve) => child.on('close', (code) => resolve({code})))
  return {stdout: () => stdout, stderr: () => stderr, exited}
}
