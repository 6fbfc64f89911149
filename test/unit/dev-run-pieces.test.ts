/**
 * The pieces `runDev` is made of (options.ts, stack.ts, start.ts, report.ts), each on its own:
 * the children's environment and command, the restart-or-crash decision for a child that exits,
 * the start-up error, the API port, the state file's content, the banner and the crash messages.
 * The run as a user starts it is tested in test/e2e/dev-*.test.ts.
 */
import {createServer, type Server} from 'node:net'

import {afterEach, describe, expect, it} from 'vitest'

import {KedaLabError} from '../../src/errors.js'
import {baseEnv, type DevOptions, serve, validateDevOptions} from '../../src/lab/dev/options.js'
import {bannerLines, crashError, describeCrash, devStateOf} from '../../src/lab/dev/report.js'
import {createRestarts, MAX_RESTARTS} from '../../src/lab/dev/restarts.js'
import {createRunEnd} from '../../src/lab/dev/run-end.js'
import {onChildExit, restartLine, startupError, workerSpec} from '../../src/lab/dev/stack.js'
import {claimApiPort} from '../../src/lab/dev/start.js'
import type {ManagedProcess, ProcessSpec} from '../../src/lab/dev/supervisor.js'
import {waitFor} from '../helpers/processes.js'

const options = (over: Partial<DevOptions> = {}): DevOptions => ({
  workers: 1,
  apiPort: 0,
  queue: 'tasks',
  logLevel: 'info',
  cli: {command: '/usr/bin/node', args: ['--enable-source-maps', '/pkg/bin/run.js']},
  env: {PATH: '/usr/bin', PORT: '9999', METRICS_PORT: '9', REDIS_SENTINELS: 's:1', WORKER_CONCURRENCY: '8', HOME: '/home/me'},
  color: false,
  ...over,
})

describe('options: what a child is given', () => {
  it("keeps the user's environment except what dev sets itself, and adds the queue, log level and task size", () => {
    const env = baseEnv(options({taskIterations: 20_000_000, logLevel: 'debug'}))
    expect(env).toEqual({PATH: '/usr/bin', HOME: '/home/me', QUEUE_NAME: 'tasks', LOG_LEVEL: 'debug', TASK_ITERATIONS: '20000000'})
    expect(baseEnv(options()).TASK_ITERATIONS).toBeUndefined()
  })

  it('runs `serve <service>` the way this CLI was run', () => {
    expect(serve(options(), 'webhook')).toEqual({command: '/usr/bin/node', args: ['--enable-source-maps', '/pkg/bin/run.js', 'serve', 'webhook']})
  })

  it('a worker gets the run’s Redis, its own metrics port and name, and the shutdown grace', () => {
    const spec = workerSpec(options(), {name: 'worker-2', metricsPort: 41234, redisUrl: 'redis://127.0.0.1:6390', graceMs: 8000})
    expect(spec.name).toBe('worker-2')
    expect(spec.args.slice(-2)).toEqual(['serve', 'worker'])
    expect(spec.env).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6390',
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: '41234',
      WORKER_SHUTDOWN_GRACE_MS: '8000',
      WORKER_NAME: 'worker-2',
    })
    expect(spec.env.WORKER_CONCURRENCY).toBeUndefined()
  })

  it('refuses what cannot work before anything starts, each with its fix', () => {
    expect(() => validateDevOptions(options({redisUrl: 'localhost:6379'}))).toThrow('--redis-url must be a redis:// or rediss:// URL')
    expect(() => validateDevOptions(options({redisUrl: 'redis://127.0.0.1:6379', dataDir: 'd'}))).toThrow('--data-dir is the folder of the Redis dev starts')
    expect(() => validateDevOptions(options({telegram: {token: 't', chatIds: ' '}}))).toThrow('a Telegram bot token is set but no chat id')
    expect(validateDevOptions(options())).toBeUndefined()
  })
})

describe('stack: a child that exits on its own', () => {
  const child: ManagedProcess = {name: 'worker-1', pid: 4242, stopping: false, exited: new Promise(() => {})}
  const spec: ProcessSpec = {name: 'worker-1', command: 'node', args: [], env: {}}
  const exit = {code: 1, signal: null}

  function context(over: {spec?: ProcessSpec; restart?: (s: ProcessSpec) => Promise<ManagedProcess>} = {}) {
    const lines: string[] = []
    const restarted: string[] = []
    const ctx = {
      end: createRunEnd(),
      restarts: createRestarts(),
      say: (line: string) => lines.push(line),
      spec: 'spec' in over ? over.spec : spec,
      restart:
        over.restart ??
        (async (s: ProcessSpec) => {
          restarted.push(s.name)
          return {...child, pid: 4343}
        }),
      now: () => 1_000,
    }
    return {ctx, lines, restarted}
  }

  it('during start-up (no spec yet) stops the run with a crash naming it', () => {
    const {ctx} = context({spec: undefined})
    onChildExit(child, exit, ctx)
    expect(ctx.end.reason()).toEqual({kind: 'crash', crash: {name: 'worker-1', pid: 4242, exit}})
  })

  it('once running, restarts it the same way and says so', async () => {
    const {ctx, lines, restarted} = context()
    onChildExit(child, exit, ctx)
    expect(lines[0]).toBe('worker-1 (pid 4242) exited unexpectedly (exit code 1); restarting it (restart 1 of at most 5 within 60 s)')
    await waitFor(() => lines.includes('restarted worker-1 (pid 4343)'))
    expect(restarted).toEqual(['worker-1'])
    expect(ctx.end.reason()).toBeUndefined()
  })

  it(`after ${MAX_RESTARTS} restarts within the window, stops the run with the count`, () => {
    const {ctx} = context()
    for (let i = 0; i < MAX_RESTARTS; i++) ctx.restarts.decide('worker-1', 1_000)
    onChildExit(child, exit, ctx)
    expect(ctx.end.reason()).toEqual({kind: 'crash', crash: {name: 'worker-1', pid: 4242, exit, restarts: MAX_RESTARTS}})
  })

  it('a restart that cannot spawn stops the run; nothing at all happens while the run is ending', async () => {
    const failing = context({
      restart: async () => {
        throw new Error('spawn node ENOENT')
      },
    })
    onChildExit(child, exit, failing.ctx)
    await waitFor(() => failing.ctx.end.reason())
    expect(failing.lines).toContain('cannot restart worker-1: spawn node ENOENT')
    expect(failing.ctx.end.reason()).toMatchObject({kind: 'crash', crash: {name: 'worker-1', restarts: 1}})
    const ending = context()
    ending.ctx.end.stop({kind: 'signal', signal: 'SIGINT'})
    onChildExit(child, exit, ending.ctx)
    expect(ending.lines).toEqual([])
    expect(ending.ctx.restarts.pending()).toEqual([])
  })

  it('restartLine says the delay, and for Redis that the API answers 503 meanwhile', () => {
    expect(restartLine({name: 'redis', pid: 7}, {code: null, signal: 'SIGKILL'}, 2000, 3)).toBe(
      'redis (pid 7) exited unexpectedly (killed by SIGKILL); restarting it in 2 s (restart 3 of at most 5 within 60 s); the API answers 503 until Redis is back',
    )
  })

  it('startupError names the crash that ended start-up, else the reason the child gave', () => {
    const end = createRunEnd()
    expect(startupError(end, 'api', 'no answer on /healthz within 60 s').message).toBe('api did not become ready: no answer on /healthz within 60 s')
    end.stop({kind: 'crash', crash: {name: 'redis', pid: 1, exit: {code: 1, signal: null}}})
    const error = startupError(end, 'api', 'stopped')
    expect(error).toBeInstanceOf(KedaLabError)
    expect(error.message).toBe('redis exited during start-up (exit code 1)')
    expect(error.hint).toBe('read the lines prefixed [redis] above; fix the cause and run keda-lab dev again')
  })
})

describe('start: the API port', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    server = undefined
  })

  it('a busy port is one clear error with --api-port 0 as the fix; 0 picks a free one', async () => {
    const busy = createServer()
    server = busy
    const port = await new Promise<number>((resolve) =>
      busy.listen(0, '127.0.0.1', () => {
        const address = busy.address()
        resolve(typeof address === 'object' && address ? address.port : 0)
      }),
    )
    const error = await claimApiPort(port).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KedaLabError)
    expect((error as KedaLabError).message).toBe(`port ${port} is already in use, so the API cannot listen on it`)
    expect((error as KedaLabError).hint).toMatch(/^pass --api-port 0 to pick a free port/)
    const picked = await claimApiPort(0)
    expect(picked).toBeGreaterThan(0)
    expect(picked).not.toBe(port)
  })
})

describe('report: what the run tells', () => {
  const services = {apiUrl: 'http://127.0.0.1:8000', apiMetricsPort: 9101}
  const workers = {
    live: () => [{name: 'worker-1', pid: 1, stopping: false, exited: new Promise<never>(() => {})}],
    metricsPorts: () => new Map([['worker-1', 9102]]),
  }

  it('the state file: workers read afresh, the webhook token only with a webhook, desired workers only with --autoscale', () => {
    const autoscale = {minWorkers: 1, maxWorkers: 4, tasksPerWorker: 2, pollingIntervalMs: 5000, cooldownMs: 60_000}
    const state = devStateOf(
      options({autoscale}),
      {...services, webhook: {url: 'http://127.0.0.1:9200', metricsPort: 9201, token: 'tok', tokenFrom: 'WEBHOOK_TOKEN'}},
      workers,
      '2026-12-07T04:40:00.000Z',
    )
    expect(state()).toEqual({
      pid: process.pid,
      apiUrl: 'http://127.0.0.1:8000',
      queue: 'tasks',
      startedAt: '2026-12-07T04:40:00.000Z',
      workers: ['worker-1'],
      webhook: {url: 'http://127.0.0.1:9200', token: 'tok'},
      autoscale: {minWorkers: 1, maxWorkers: 4, tasksPerWorker: 2, pollingIntervalMs: 5000},
      desiredWorkers: 1,
    })
    state.desire(3)
    expect(state().desiredWorkers).toBe(3)
    const plain = devStateOf(options(), services, workers, 'now')()
    expect(plain).not.toHaveProperty('webhook')
    expect(plain).not.toHaveProperty('desiredWorkers')
  })

  it('the banner says where each part is and what becomes of a temporary Redis', () => {
    const lines = bannerLines(options(), services, workers, {url: 'redis://127.0.0.1:6390', data: {dir: '/tmp/r', temporary: true, remove: () => {}}})
    expect(lines[0]).toBe('keda-lab dev is running; Ctrl-C stops everything')
    expect(lines).toContain('  Metrics   api http://127.0.0.1:9101/metrics, worker-1 http://127.0.0.1:9102/metrics')
    expect(lines.find((l) => l.startsWith('  Redis'))).toMatch(/removed at the end: --data-dir DIR keeps it\) {2}queue "tasks"$/)
    expect(lines.at(-1)).toBe('  Webhook   not started (set --telegram-token and --telegram-chat-ids to start it)')
  })

  it('a crash: said once when it stops everything, then the error with where to read', () => {
    const crash = {name: 'worker-1', pid: 5, exit: {code: 3, signal: null}, restarts: 5}
    expect(describeCrash(crash)).toBe('worker-1 (pid 5) exited unexpectedly again (exit code 3) after 5 restart(s) within 60 s; stopping everything')
    expect(crashError(crash).message).toBe('worker-1 keeps exiting (5 restart(s) within 60 s, last: exit code 3), so keda-lab dev stopped everything')
    expect(crashError({...crash, restarts: undefined}).message).toBe('worker-1 exited unexpectedly (exit code 3), so keda-lab dev stopped everything')
  })
})
