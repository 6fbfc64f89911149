import {randomBytes} from 'node:crypto'

import {describeRedis, redisOptions} from '../../adapters/redis.js'
import {ConfigError, KedaLabError} from '../../errors.js'
import {formatChildLine, formatDevLine} from '../../ui/dev-log.js'
import {type AutoscaleOptions, validateAutoscaleOptions} from '../autoscale.js'
import {createDevStateFile, type DevState, type DevStateFile} from '../../status/dev-state.js'
import {type AutoscalerLoop, startAutoscalerLoop} from './autoscaler.js'
import {autoscaleRule, type DevAutoscale, describeAutoscale} from './autoscale-settings.js'
import {checkRedis, countQueued, pingRedis, type RedisDataDir, redisDataDir, redisServerArgs, shortenRedisLine} from './local-redis.js'
import {findOnPath, freePort, httpOk, isPortFree, pollUntil} from './net.js'
import {createRestarts, MAX_RESTARTS, RESTART_WINDOW_MS} from './restarts.js'
import {type Crash, createRunEnd, describeExit, type RunEnd, type StopReason} from './run-end.js'
import {createSupervisor, type ManagedProcess, type ProcessExit, type ProcessSpec, type Supervisor} from './supervisor.js'
import {createWorkerPool, type WorkerPool} from './workers.js'

export {MAX_RESTARTS, RESTART_WINDOW_MS}

/** Everything `keda-lab dev` needs to know, already parsed from flags and environment. */
export interface DevOptions {
  /** Workers to start (ignored with `autoscale`, which starts `minWorkers`). */
  workers: number
  /** Use this Redis instead of starting `redis-server`. */
  redisUrl?: string
  /** Keep the local Redis's append-only file here across runs (default: a temporary folder). */
  dataDir?: string
  /** API port; 0 picks a free one. */
  apiPort: number
  queue: string
  /** Task size given to the API and the worker (TASK_ITERATIONS); undefined keeps their default. */
  taskIterations?: number
  logLevel: string
  /** When set, the webhook is started too. */
  telegram?: {token: string; chatIds: string}
  /** Scale the workers like KEDA and its HPA would (autoscale-settings.ts). */
  autoscale?: DevAutoscale
  /** How to run this CLI in a child process: `process.execPath` and the entry script. */
  cli: {command: string; args: string[]}
  /** Environment the children start from (the user's environment). */
  env: NodeJS.ProcessEnv
  /** Colour the prefixes. */
  color: boolean
  /** Grace period for a stopping worker or service before SIGKILL (default 10 s). */
  stopGraceMs?: number
}

/** The I/O edges of the run, passed in so that a caller (or a test) controls them. */
export interface DevDeps {
  /** Writes one line to the terminal. */
  print(line: string): void
  /** Subscribes to SIGINT/SIGTERM/SIGHUP; returns an unsubscribe function. */
  onSignal(handler: (signal: NodeJS.Signals) => void): () => void
  /** Calls `handler` once the process that started dev is gone (parent-watch.ts); returns an unsubscribe function. */
  onParentGone?(handler: (pid: number) => void): () => void
}

/** How the run ended (a crash is thrown as a KedaLabError instead). */
export interface DevResult {
  /** The signal that stopped it (SIGTERM when its parent went away). */
  signal: NodeJS.Signals
  /** Names of the processes that were running and were stopped. */
  stopped: string[]
  /** Tasks left queued in a temporary Redis and discarded with it; undefined when none was discarded or they could not be counted. */
  discardedTasks?: number
}

/** The env variables a child must not inherit from the user: dev sets its own or they would conflict. */
const NOT_INHERITED = ['PORT', 'METRICS_PORT', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'WORKER_CONCURRENCY']

/** The run's children, as `runDev` starts and restarts them. */
interface Stack {
  supervisor: Supervisor
  workers: WorkerPool
  end: RunEnd
  say(line: string): void
  start(spec: ProcessSpec): Promise<ManagedProcess>
  /** Builds a KedaLabError for a child that did not become ready (or crashed while starting). */
  startupError(name: string, reason: string): KedaLabError
  /** The Redis every child is given (known once Redis runs, before the first service starts). */
  useRedis(url: string): void
}

/**
 * Runs the whole application on this machine: Redis (unless `redisUrl`), the API, the workers
 * and, with a Telegram token, the webhook, as child processes of this one; streams their output
 * with a `[name]` prefix; and stops everything on SIGINT/SIGTERM/SIGHUP, or when the process that
 * started it is gone.
 *
 * A child that exits on its own once everything runs is restarted the same way (restarts.ts), as
 * the kubelet would: a crashed worker comes back, and while Redis restarts the API stays up and
 * answers 503. A child that exits during start-up, or keeps exiting, stops the whole run with a
 * KedaLabError naming it. A stop says how many queued tasks a temporary Redis took with it.
 */
export async function runDev(options: DevOptions, deps: DevDeps): Promise<DevResult> {
  const rule = validateDevOptions(options)
  // The worker finishes its task or hands it back within WORKER_SHUTDOWN_GRACE_MS of SIGTERM;
  // dev gives it that, plus a margin, before SIGKILL.
  const workerGraceMs = Number(options.env.WORKER_SHUTDOWN_GRACE_MS) || 8_000
  const graceMs = options.stopGraceMs ?? Math.max(10_000, workerGraceMs + 5_000)
  let publish = () => {}
  const say = (line: string) => {
    deps.print(formatDevLine(line, {color: options.color}))
    publish()
  }
  const stack = createStack(options, deps, say, workerGraceMs, graceMs)
  const {end, supervisor} = stack
  const unsubscribe = deps.onSignal((signal) => {
    if (end.stop({kind: 'signal', signal})) say(`${signal} received: stopping everything (press Ctrl-C again to kill at once)`)
    else {
      say('killing everything now')
      supervisor.killAll()
    }
  })
  const unwatch = deps.onParentGone?.((pid) => {
    if (end.stop({kind: 'parent-gone', parentPid: pid})) say(`the process that started keda-lab dev (pid ${pid}) is gone: stopping everything`)
  })

  let redis: {url: string; data?: RedisDataDir} | undefined
  let devState: DevStateFile | undefined
  let loop: AutoscalerLoop | undefined
  let stopped: string[] = []
  let discardedTasks: number | undefined
  try {
    const apiPort = await claimApiPort(options.apiPort)
    redis = options.redisUrl ? {url: options.redisUrl} : await startLocalRedis(stack, options)
    if (options.redisUrl) await checkRedis(options.redisUrl)
    stack.useRedis(redis.url)
    const services = await startServices(stack, options, redis.url, apiPort)
    stack.markRunning()
    devState = createDevStateFile(process.pid, options.env)
    const state = devStateOf(options, services, stack.workers, new Date().toISOString())
    publish = () => devState?.write(state())
    for (const line of bannerLines(options, services, stack.workers, redis)) say(line)
    if (rule && options.autoscale) loop = await startAutoscale(stack, options, rule, redis.url, devState, state, publish)
    await end.ended
  } finally {
    publish = () => {}
    devState?.remove()
    await loop?.stop()
    const crash = crashOf(end.reason())
    if (crash) say(describeCrash(crash))
    stopped = supervisor.list().map((p) => p.name)
    // Workers and services first (they may need Redis to hand back their tasks), then count what
    // is still queued, then Redis.
    const beforeRedis = supervisor.list().filter((p) => p.name !== 'redis')
    await Promise.all(beforeRedis.map((p) => supervisor.stop(p.name, graceMs)))
    if (redis?.data && supervisor.list().some((p) => p.name === 'redis')) discardedTasks = await reportQueued(redis, options.queue, say)
    await supervisor.stopAll(graceMs)
    stack.dispose()
    unsubscribe()
    unwatch?.()
    redis?.data?.remove()
    if (stopped.length > 0) say(`stopped ${stopped.join(', ')}`)
  }
  const reason = end.reason()
  const crash = crashOf(reason)
  if (crash) throw crashError(crash)
  return {signal: reason?.kind === 'signal' ? reason.signal : 'SIGTERM', stopped, ...(discardedTasks ? {discardedTasks} : {})}
}

/** Checks what can be checked before anything starts; returns the autoscale rule, if any. */
export function validateDevOptions(options: DevOptions): AutoscaleOptions | undefined {
  const rule = options.autoscale ? autoscaleRule(options.autoscale) : undefined
  if (rule) {
    const problem = validateAutoscaleOptions(rule)
    if (problem) throw new ConfigError(`--autoscale: ${problem}`, 'keda-lab dev --autoscale --min-workers 1 --max-workers 5 --tasks-per-worker 2')
  }
  if (options.redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(options.redisUrl)) {
    throw new ConfigError('--redis-url must be a redis:// or rediss:// URL', 'keda-lab dev --redis-url redis://127.0.0.1:6379')
  }
  if (options.redisUrl !== undefined && options.dataDir !== undefined) {
    throw new ConfigError('--data-dir is the folder of the Redis dev starts; with --redis-url that Redis keeps its own data', 'leave out one of them')
  }
  if (options.telegram && !options.telegram.chatIds.trim()) {
    throw new ConfigError('a Telegram bot token is set but no chat id', 'add --telegram-chat-ids 123456789 (or TELEGRAM_CHAT_IDS=123456789)')
  }
  return rule
}

/** The supervisor, its restarts and the worker pool, wired to one RunEnd. */
function createStack(
  options: DevOptions,
  deps: DevDeps,
  say: (line: string) => void,
  workerGraceMs: number,
  graceMs: number,
): Stack & {markRunning(): void; dispose(): void} {
  const end = createRunEnd()
  let redisUrl = ''
  const restarts = createRestarts()
  /** How each child was started, to restart it the same way. */
  const specs = new Map<string, ProcessSpec>()
  /** True once everything started: from then on a child that exits is restarted. */
  let running = false
  const crash = (c: Crash) => end.stop({kind: 'crash', crash: c})
  const supervisor = createSupervisor({
    onLine: (name, line) => deps.print(formatChildLine(name, name === 'redis' ? shortenRedisLine(line) : line, {color: options.color})),
    onUnexpectedExit(child, exit) {
      if (end.reason()) return
      const spec = specs.get(child.name)
      if (!running || !spec) return void crash({name: child.name, pid: child.pid, exit})
      const decision = restarts.decide(child.name, Date.now())
      if (!decision.restart) return void crash({name: child.name, pid: child.pid, exit, restarts: decision.restarts})
      say(restartLine(child, exit, decision.delayMs, decision.attempt))
      restarts.schedule(child.name, decision.delayMs, () => {
        if (end.reason()) return
        supervisor.start(spec).then(
          (restarted) => say(`restarted ${restarted.name} (pid ${restarted.pid})`),
          (error: Error) => {
            say(`cannot restart ${child.name}: ${error.message}`)
            crash({name: child.name, pid: child.pid, exit, restarts: decision.attempt})
          },
        )
      })
    },
  })
  const start = async (spec: ProcessSpec) => {
    const started = await supervisor.start(spec)
    specs.set(spec.name, spec)
    return started
  }
  const workers = createWorkerPool({
    supervisor,
    restarts,
    start,
    forget: (name) => specs.delete(name),
    spec: (name, metricsPort) => ({
      name,
      ...serve(options, 'worker'),
      env: {
        ...baseEnv(options),
        REDIS_URL: redisUrl,
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
        WORKER_SHUTDOWN_GRACE_MS: String(workerGraceMs),
        WORKER_NAME: name,
      },
    }),
    freePort,
    say,
    graceMs,
  })
  return {
    supervisor,
    workers,
    end,
    say,
    start,
    markRunning: () => {
      running = true
    },
    useRedis: (url) => {
      redisUrl = url
    },
    dispose: () => restarts.cancelAll(),
    startupError(name, reason) {
      const c = crashOf(end.reason())
      if (c) {
        return new KedaLabError(`${c.name} exited during start-up (${describeExit(c.exit)})`, {
          hint: `read the lines prefixed [${c.name}] above; fix the cause and run keda-lab dev again`,
        })
      }
      return new KedaLabError(`${name} did not become ready: ${reason}`, {hint: `read the lines prefixed [${name}] above`})
    },
  }
}

/** The API port first: a busy port is the most likely mistake, caught before anything starts. */
async function claimApiPort(port: number): Promise<number> {
  if (port === 0) return freePort()
  if (!(await isPortFree(port))) {
    throw new KedaLabError(`port ${port} is already in use, so the API cannot listen on it`, {
      hint: `pass --api-port 0 to pick a free port (or --api-port 8080), or stop what listens on ${port}`,
    })
  }
  return port
}

/** Starts redis-server on a free loopback port with its AOF in the run's folder; waits for PONG. */
async function startLocalRedis(stack: Stack, options: DevOptions): Promise<{url: string; data: RedisDataDir}> {
  const binary = findOnPath('redis-server', options.env.PATH)
  if (!binary) {
    throw new KedaLabError('redis-server was not found on PATH; keda-lab dev starts a local Redis with it', {
      hint: 'install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or pass --redis-url redis://HOST:6379 to use a running Redis',
    })
  }
  const port = await freePort()
  const data = redisDataDir(options.dataDir)
  try {
    const redis = await stack.start({name: 'redis', command: binary, args: redisServerArgs(port, data.dir), env: options.env})
    const url = `redis://127.0.0.1:${port}`
    const up = await pollUntil(() => pingRedis(url), {timeoutMs: 10_000, abort: stack.end.interrupted})
    if (!up.ok) throw stack.startupError('redis', up.reason)
    stack.say(`started redis (pid ${redis.pid})`)
    return {url, data}
  } catch (error) {
    // The caller's cleanup knows only a Redis that started: the folder must not outlive a failure.
    await stack.supervisor.stop('redis', 2000)
    data.remove()
    throw error
  }
}

/** What the API and webhook children were given. */
interface Services {
  apiUrl: string
  apiMetricsPort: number
  webhook?: {url: string; metricsPort: number; token: string; tokenFrom: string}
}

/** The API, the first workers and the webhook; resolves once the API (and webhook) answer /healthz. */
async function startServices(stack: Stack, options: DevOptions, redisUrl: string, apiPort: number): Promise<Services> {
  const childEnv = {...baseEnv(options), REDIS_URL: redisUrl}
  const apiMetricsPort = await freePort()
  const api = await stack.start({
    name: 'api',
    ...serve(options, 'api'),
    // Loopback only: a development stack is not for the network (the container image binds 0.0.0.0).
    env: {...childEnv, HOST: '127.0.0.1', PORT: String(apiPort), METRICS_PORT: String(apiMetricsPort)},
  })
  const apiUrl = `http://127.0.0.1:${apiPort}`
  stack.say(`started api (pid ${api.pid})`)

  const initialWorkers = options.autoscale ? options.autoscale.minWorkers : options.workers
  for (let i = 0; i < initialWorkers; i++) {
    const worker = await stack.workers.add()
    stack.say(`started ${worker.name} (pid ${worker.pid})`)
  }

  let webhook: Services['webhook']
  if (options.telegram) {
    const port = await freePort()
    const metricsPort = await freePort()
    const token = options.env.WEBHOOK_TOKEN || randomBytes(24).toString('base64url')
    const child = await stack.start({
      name: 'webhook',
      ...serve(options, 'webhook'),
      env: {
        ...childEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        TELEGRAM_BOT_TOKEN: options.telegram.token,
        TELEGRAM_CHAT_IDS: options.telegram.chatIds,
        WEBHOOK_TOKEN: token,
      },
    })
    stack.say(`started webhook (pid ${child.pid})`)
    webhook = {
      url: `http://127.0.0.1:${port}`,
      metricsPort,
      token,
      tokenFrom: options.env.WEBHOOK_TOKEN
        ? 'WEBHOOK_TOKEN'
        : 'generated for this run and kept in its state file, where `keda-lab alert test --local URL` finds it; set WEBHOOK_TOKEN to choose it',
    }
  }

  // Ready when the API and the webhook answer, so that the URLs printed next work at once (the
  // workers report their own start in the log).
  const ready = (url: string) => pollUntil(() => httpOk(`${url}/healthz`), {timeoutMs: 60_000, intervalMs: 200, abort: stack.end.interrupted})
  const [apiUp, webhookUp] = await Promise.all([ready(apiUrl), webhook ? ready(webhook.url) : undefined])
  if (!apiUp.ok) throw stack.startupError('api', apiUp.reason)
  if (webhookUp && !webhookUp.ok) throw stack.startupError('webhook', webhookUp.reason)
  return {apiUrl, apiMetricsPort, webhook}
}

/** The state file's content, read afresh at each write (workers come and go). */
function devStateOf(options: DevOptions, services: Services, workers: WorkerPool, startedAt: string) {
  let desiredWorkers = options.autoscale?.minWorkers
  const state = (): Omit<DevState, 'decisions'> => ({
    pid: process.pid,
    apiUrl: services.apiUrl,
    queue: options.queue,
    startedAt,
    workers: workers.live().map((p) => p.name),
    // The file is the user's alone (0600 in a 0700 folder): `alert test --local` reads the token here.
    ...(services.webhook ? {webhook: {url: services.webhook.url, token: services.webhook.token}} : {}),
    ...(options.autoscale
      ? {
          autoscale: {
            minWorkers: options.autoscale.minWorkers,
            maxWorkers: options.autoscale.maxWorkers,
            tasksPerWorker: options.autoscale.tasksPerWorker,
            pollingIntervalMs: options.autoscale.pollingIntervalMs,
          },
          desiredWorkers,
        }
      : {}),
  })
  /** What the autoscaler last asked for (loadtest's watcher draws it beside the workers). */
  state.desire = (n: number) => {
    desiredWorkers = n
  }
  return state as typeof state & {desire(n: number): void}
}

/** The lines printed once everything runs: where each part is and how to stop. */
export function bannerLines(options: DevOptions, services: Services, workers: WorkerPool, redis: {url: string; data?: RedisDataDir}): string[] {
  const {apiUrl, webhook} = services
  const redisWhere = !redis.data
    ? ''
    : redis.data.temporary
      ? ' (started here; append-only file in a temporary folder, removed at the end: --data-dir DIR keeps it)'
      : ` (started here; append-only file kept in ${redis.data.dir})`
  return [
    'keda-lab dev is running; Ctrl-C stops everything',
    `  API       ${apiUrl}  (POST /api/tasks/add, POST /api/tasks, GET /api/queue)`,
    `  Docs      ${apiUrl}/docs  (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Metrics   api http://127.0.0.1:${services.apiMetricsPort}/metrics` +
      [...workers.metricsPorts()].map(([name, port]) => `, ${name} http://127.0.0.1:${port}/metrics`).join('') +
      (webhook ? `, webhook http://127.0.0.1:${webhook.metricsPort}/metrics` : ''),
    `  Redis     ${describeRedis({mode: 'standalone', url: redis.url})}${redisWhere}  queue "${options.queue}"`,
    webhook
      ? `  Webhook   ${webhook.url}/alerts  (bearer token: ${webhook.tokenFrom})`
      : '  Webhook   not started (set --telegram-token and --telegram-chat-ids to start it)',
  ]
}

/** The local imitation of KEDA: reads the queue every polling interval and scales the worker pool. */
async function startAutoscale(
  stack: Stack,
  options: DevOptions,
  rule: AutoscaleOptions,
  redisUrl: string,
  devState: DevStateFile,
  state: ReturnType<typeof devStateOf>,
  publish: () => void,
): Promise<AutoscalerLoop> {
  const autoscale = options.autoscale
  if (!autoscale) throw new Error('startAutoscale without --autoscale')
  const {Redis} = await import('ioredis')
  const reader = new Redis(redisOptions({mode: 'standalone', url: redisUrl}, {maxRetriesPerRequest: 1, lazyConnect: true}))
  reader.on('error', () => {}) // reported by the loop when a read fails
  stack.say(describeAutoscale(rule, options.queue, autoscale.pollingIntervalMs))
  const loop = startAutoscalerLoop({
    rule,
    pollingIntervalMs: autoscale.pollingIntervalMs,
    initialReplicas: stack.workers.live().length + stack.workers.restarting().length,
    read: async () => {
      const [waiting, active] = await Promise.all([reader.llen(`bull:${options.queue}:wait`), reader.llen(`bull:${options.queue}:active`)])
      return {waiting, active}
    },
    report: (line) => {
      devState.decision(line)
      stack.say(line)
    },
    async scaleTo(replicas) {
      if (stack.end.reason()) return
      state.desire(replicas)
      await stack.workers.scaleTo(replicas)
      // A stopping worker no longer counts (as a terminating pod is not ready): say so now.
      publish()
    },
  })
  return {
    async stop() {
      await loop.stop()
      reader.disconnect()
    },
  }
}

/**
 * Counts the tasks still queued in the Redis dev started, once the workers have handed theirs
 * back, and says what becomes of them: discarded with a temporary folder, or kept in --data-dir.
 * Returns the number discarded (undefined when none, or when they could not be counted).
 */
async function reportQueued(redis: {url: string; data?: RedisDataDir}, queue: string, say: (line: string) => void): Promise<number | undefined> {
  if (!redis.data) return undefined
  let queued: number
  try {
    queued = await countQueued(redis.url, queue)
  } catch (error) {
    say(
      redis.data.temporary
        ? `could not count the queued tasks before stopping Redis (${(error as Error).message}); any there were are discarded with its temporary folder`
        : `could not count the queued tasks (${(error as Error).message}); Redis keeps them in ${redis.data.dir}`,
    )
    return undefined
  }
  if (queued === 0) return undefined
  if (!redis.data.temporary) {
    say(`${queued} queued task(s) kept in ${redis.data.dir}: \`keda-lab dev --data-dir ${redis.data.dir}\` runs them`)
    return undefined
  }
  say(`discarded ${queued} queued task(s) with the temporary Redis; \`keda-lab dev --data-dir DIR\` keeps them for the next run`)
  return queued
}

function crashOf(reason: StopReason | undefined): Crash | undefined {
  return reason?.kind === 'crash' ? reason.crash : undefined
}

function restartLine(child: ManagedProcess, exit: ProcessExit, delayMs: number, attempt: number): string {
  return (
    `${child.name} (pid ${child.pid}) exited unexpectedly (${describeExit(exit)}); restarting it` +
    (delayMs > 0 ? ` in ${delayMs / 1000} s` : '') +
    ` (restart ${attempt} of at most ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 1000} s)` +
    (child.name === 'redis' ? '; the API answers 503 until Redis is back' : '')
  )
}

function describeCrash(crash: Crash): string {
  return crash.restarts
    ? `${crash.name} (pid ${crash.pid}) exited unexpectedly again (${describeExit(crash.exit)}) after ${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s; stopping everything`
    : `${crash.name} (pid ${crash.pid}) exited unexpectedly (${describeExit(crash.exit)}); stopping everything`
}

function crashError(crash: Crash): KedaLabError {
  const what = crash.restarts
    ? `${crash.name} keeps exiting (${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s, last: ${describeExit(crash.exit)})`
    : `${crash.name} exited unexpectedly (${describeExit(crash.exit)})`
  return new KedaLabError(`${what}, so keda-lab dev stopped everything`, {
    hint: `read the lines prefixed [${crash.name}] above, fix the cause, and run keda-lab dev again`,
  })
}

/** The children's environment without REDIS_URL (set once Redis is known). */
function baseEnv(options: DevOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...options.env}
  for (const key of NOT_INHERITED) delete env[key]
  env.QUEUE_NAME = options.queue
  env.LOG_LEVEL = options.logLevel
  if (options.taskIterations !== undefined) env.TASK_ITERATIONS = String(options.taskIterations)
  return env
}

function serve(options: DevOptions, service: 'api' | 'worker' | 'webhook'): {command: string; args: string[]} {
  return {command: options.cli.command, args: [...options.cli.args, 'serve', service]}
}
