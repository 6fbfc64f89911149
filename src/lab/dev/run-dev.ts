import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describeRedis, redisOptions} from '../../adapters/redis.js'
import {ConfigError, KedaLabError} from '../../errors.js'
import {type AutoscaleOptions, validateAutoscaleOptions} from '../autoscale.js'
import {type AutoscalerLoop, startAutoscalerLoop} from './autoscaler.js'
import {formatChildLine, formatDevLine} from '../../ui/dev-log.js'
import {findOnPath, freePort, httpOk, isPortFree, pollUntil} from './net.js'
import {type ProcessExit, type ProcessSpec, createSupervisor} from './supervisor.js'
import {createDevStateFile, type DevStateFile} from '../../status/dev-state.js'

/** Everything `keda-lab dev` needs to know, already parsed from flags and environment. */
export interface DevOptions {
  /** Workers to start (ignored with `autoscale`, which starts `minWorkers`). */
  workers: number
  /** Use this Redis instead of starting `redis-server`. */
  redisUrl?: string
  /** API port; 0 picks a free one. */
  apiPort: number
  queue: string
  /** Task size given to the API and the worker (TASK_ITERATIONS); undefined keeps their default. */
  taskIterations?: number
  logLevel: string
  /** When set, the webhook is started too. */
  telegram?: {token: string; chatIds: string}
  autoscale?: {
    minWorkers: number
    maxWorkers: number
    tasksPerWorker: number
    pollingIntervalMs: number
    /** KEDA cooldownPeriod: idle time before scaling to zero (min 0 only). */
    cooldownMs: number
    /** HPA scale-down stabilisation window (the chart leaves the HPA default, 300 s). */
    stabilizationWindowMs: number
  }
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
}

/** How the run ended (a crash is thrown as a KedaLabError instead). */
export interface DevResult {
  signal: NodeJS.Signals
  /** Names of the processes that were running and were stopped. */
  stopped: string[]
}

/**
 * Restarts, like a Pod's restartPolicy Always with a short crash-loop back-off: the first restart
 * at once, then 1 s, 2 s, 4 s (at most 8 s); more than MAX_RESTARTS within RESTART_WINDOW_MS stops
 * the run, since restarting again would only hide the cause.
 */
export const MAX_RESTARTS = 5
export const RESTART_WINDOW_MS = 60_000

/** The env variables a child must not inherit from the user: dev sets its own or they would conflict. */
const NOT_INHERITED = ['PORT', 'METRICS_PORT', 'REDIS_SENTINELS', 'REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD', 'WORKER_CONCURRENCY']

/**
 * Runs the whole application on this machine: Redis (unless `redisUrl`), the API, the workers
 * and, with a Telegram token, the webhook, as child processes of this one; streams their output
 * with a `[name]` prefix; and stops everything on SIGINT/SIGTERM/SIGHUP.
 *
 * A child that exits on its own once everything runs is restarted the same way (same port, same
 * name), saying why, as the kubelet would: a crashed worker comes back, and while Redis restarts
 * the API stays up and answers 503. A child that exits during start-up, or keeps exiting (more
 * than MAX_RESTARTS within RESTART_WINDOW_MS), stops the whole run with a KedaLabError naming it.
 */
export async function runDev(options: DevOptions, deps: DevDeps): Promise<DevResult> {
  /** The run's state file for `keda-lab status --local` (written once everything runs, removed at the end). */
  let devState: DevStateFile | undefined
  let publish = () => {}
  const say = (line: string) => {
    deps.print(formatDevLine(line, {color: options.color}))
    publish()
  }
  // The worker finishes its task or hands it back within WORKER_SHUTDOWN_GRACE_MS of SIGTERM;
  // dev gives it that, plus a margin, before SIGKILL.
  const workerGraceMs = Number(options.env.WORKER_SHUTDOWN_GRACE_MS) || 8_000
  const graceMs = options.stopGraceMs ?? Math.max(10_000, workerGraceMs + 5_000)

  const rule = options.autoscale ? autoscaleRule(options.autoscale) : undefined
  if (rule) {
    const problem = validateAutoscaleOptions(rule)
    if (problem) throw new ConfigError(`--autoscale: ${problem}`, 'keda-lab dev --autoscale --min-workers 1 --max-workers 5 --tasks-per-worker 2')
  }
  if (options.redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(options.redisUrl)) {
    throw new ConfigError('--redis-url must be a redis:// or rediss:// URL', 'keda-lab dev --redis-url redis://127.0.0.1:6379')
  }
  if (options.telegram && !options.telegram.chatIds.trim()) {
    throw new ConfigError('a Telegram bot token is set but no chat id', 'add --telegram-chat-ids 123456789 (or TELEGRAM_CHAT_IDS=123456789)')
  }

  // Stop requests can arrive at any time, even during start-up.
  let stopSignal: NodeJS.Signals | undefined
  /** What stopped the run: a child that exited during start-up, or kept exiting. */
  let crash: {name: string; pid: number; exit: ProcessExit; restarts?: number} | undefined
  let wake: () => void = () => {}
  const woken = new Promise<void>((resolve) => (wake = resolve))
  let signals = 0
  /** True once everything started: from then on a child that exits is restarted. */
  let running = false
  /** How each child was started, to restart it the same way. */
  const specs = new Map<string, ProcessSpec>()
  /** Recent restarts per child (times), for the back-off and the crash-loop limit. */
  const restarts = new Map<string, number[]>()
  /** Restarts waiting for their back-off. */
  const pendingRestarts = new Map<string, NodeJS.Timeout>()
  const supervisor = createSupervisor({
    onLine: (name, line) => deps.print(formatChildLine(name, line, {color: options.color})),
    onUnexpectedExit(process, exit) {
      if (stopSignal || crash) return
      const spec = specs.get(process.name)
      const now = Date.now()
      const recent = (restarts.get(process.name) ?? []).filter((t) => now - t < RESTART_WINDOW_MS)
      if (!running || !spec || recent.length >= MAX_RESTARTS) {
        crash = {name: process.name, pid: process.pid, exit, restarts: running ? recent.length : undefined}
        wake()
        return
      }
      recent.push(now)
      restarts.set(process.name, recent)
      const delayMs = recent.length === 1 ? 0 : Math.min(1000 * 2 ** (recent.length - 2), 8000)
      say(
        `${process.name} (pid ${process.pid}) exited unexpectedly (${describeExit(exit)}); restarting it` +
          (delayMs > 0 ? ` in ${delayMs / 1000} s` : '') +
          ` (restart ${recent.length} of at most ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 1000} s)` +
          (process.name === 'redis' ? '; the API answers 503 until Redis is back' : ''),
      )
      pendingRestarts.set(
        process.name,
        setTimeout(() => {
          pendingRestarts.delete(process.name)
          if (stopSignal || crash) return
          supervisor.start(spec).then(
            (restarted) => say(`restarted ${restarted.name} (pid ${restarted.pid})`),
            (error: Error) => {
              say(`cannot restart ${process.name}: ${error.message}`)
              crash = {name: process.name, pid: process.pid, exit, restarts: recent.length}
              wake()
            },
          )
        }, delayMs),
      )
    },
  })
  /** Starts a child and remembers how, to restart it the same way. */
  const start = async (spec: ProcessSpec) => {
    const started = await supervisor.start(spec)
    specs.set(spec.name, spec)
    return started
  }
  const unsubscribe = deps.onSignal((signal) => {
    signals++
    if (signals === 1) {
      stopSignal = signal
      say(`${signal} received: stopping everything (press Ctrl-C again to kill at once)`)
      wake()
    } else {
      say('killing everything now')
      supervisor.killAll()
    }
  })
  const interrupted = () => (stopSignal ? `stopped by ${stopSignal}` : crash ? `${crash.name} exited (${describeExit(crash.exit)})` : undefined)

  let redisDir: string | undefined
  let stopped: string[] = []
  let loop: AutoscalerLoop | undefined
  let closeReader: (() => void) | undefined
  try {
    // The API port first: a busy port is the most likely mistake, caught before anything starts.
    const apiPort = options.apiPort === 0 ? await freePort() : options.apiPort
    if (options.apiPort !== 0 && !(await isPortFree(apiPort))) {
      throw new KedaLabError(`port ${apiPort} is already in use, so the API cannot listen on it`, {
        hint: `pass --api-port 0 to pick a free port (or --api-port 8080), or stop what listens on ${apiPort}`,
      })
    }

    // 1. Redis.
    let redisUrl = options.redisUrl
    if (redisUrl) {
      await checkRedis(redisUrl)
    } else {
      const binary = findOnPath('redis-server', options.env.PATH)
      if (!binary) {
        throw new KedaLabError('redis-server was not found on PATH; keda-lab dev starts a local Redis with it', {
          hint: 'install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis), or pass --redis-url redis://HOST:6379 to use a running Redis',
        })
      }
      const port = await freePort()
      redisDir = mkdtempSync(join(tmpdir(), 'keda-lab-dev-redis-'))
      // An append-only file in a temporary folder: a restarted Redis (after a crash) gets the queue
      // back; the folder goes with the dev run.
      const redis = await start({
        name: 'redis',
        command: binary,
        args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', redisDir],
        env: options.env,
      })
      redisUrl = `redis://127.0.0.1:${port}`
      const up = await pollUntil(() => pingRedis(redisUrl!), {timeoutMs: 10_000, abort: interrupted})
      if (!up.ok) throw startupError('redis', up.reason)
      say(`started redis (pid ${redis.pid})`)
    }

    // 2. The API.
    const childEnv = baseEnv(options, redisUrl)
    const apiMetricsPort = await freePort()
    const apiProcess = await start({
      name: 'api',
      ...serve(options, 'api'),
      // Loopback only: a development stack is not for the network (the container image binds 0.0.0.0).
      env: {...childEnv, HOST: '127.0.0.1', PORT: String(apiPort), METRICS_PORT: String(apiMetricsPort)},
    })
    const apiUrl = `http://127.0.0.1:${apiPort}`
    say(`started api (pid ${apiProcess.pid})`)

    // 3. Workers.
    const workerMetrics = new Map<string, number>()
    const startWorker = async () => {
      // A worker waiting for its restart keeps its name.
      const names = new Set([...supervisor.list().map((p) => p.name), ...pendingRestarts.keys()])
      let n = 1
      while (names.has(`worker-${n}`)) n++
      const name = `worker-${n}`
      const metricsPort = await freePort()
      const started = await start({
        name,
        ...serve(options, 'worker'),
        env: {...childEnv, METRICS_HOST: '127.0.0.1', METRICS_PORT: String(metricsPort), WORKER_SHUTDOWN_GRACE_MS: String(workerGraceMs), WORKER_NAME: name},
      })
      workerMetrics.set(name, metricsPort)
      return started
    }
    const initialWorkers = options.autoscale ? options.autoscale.minWorkers : options.workers
    for (let i = 0; i < initialWorkers; i++) {
      const worker = await startWorker()
      say(`started ${worker.name} (pid ${worker.pid})`)
    }

    // 4. The webhook, only when it has somewhere to send alerts.
    let webhook: {url: string; metricsPort: number; tokenFrom: string} | undefined
    if (options.telegram) {
      const port = await freePort()
      const metricsPort = await freePort()
      const token = options.env.WEBHOOK_TOKEN || randomBytes(24).toString('base64url')
      const webhookProcess = await start({
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
      say(`started webhook (pid ${webhookProcess.pid})`)
      webhook = {
        url: `http://127.0.0.1:${port}`,
        metricsPort,
        tokenFrom: options.env.WEBHOOK_TOKEN ? 'WEBHOOK_TOKEN' : 'generated for this run; set WEBHOOK_TOKEN to choose it',
      }
    }

    // Ready when the API and the webhook answer, so that the URLs printed below work at once
    // (the workers report their own start in the log).
    const [apiUp, webhookUp] = await Promise.all([
      pollUntil(() => httpOk(`${apiUrl}/healthz`), {timeoutMs: 60_000, intervalMs: 200, abort: interrupted}),
      webhook ? pollUntil(() => httpOk(`${webhook.url}/healthz`), {timeoutMs: 60_000, intervalMs: 200, abort: interrupted}) : undefined,
    ])
    if (!apiUp.ok) throw startupError('api', apiUp.reason)
    if (webhookUp && !webhookUp.ok) throw startupError('webhook', webhookUp.reason)

    running = true
    devState = createDevStateFile(process.pid, options.env)
    const startedAt = new Date().toISOString()
    /** What the autoscaler last asked for (loadtest's watcher draws it beside the workers). */
    let desiredWorkers = options.autoscale?.minWorkers
    publish = () =>
      devState?.write({
        pid: process.pid,
        apiUrl,
        queue: options.queue,
        startedAt,
        workers: supervisor
          .list()
          .filter((p) => p.name.startsWith('worker-') && !p.stopping)
          .map((p) => p.name),
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
    say('keda-lab dev is running; Ctrl-C stops everything')
    say(`  API       ${apiUrl}  (POST /api/tasks/add, POST /api/tasks, GET /api/queue)`)
    say(`  Docs      ${apiUrl}/docs  (OpenAPI: ${apiUrl}/openapi.json)`)
    say(
      `  Metrics   api http://127.0.0.1:${apiMetricsPort}/metrics` +
        [...workerMetrics].map(([name, port]) => `, ${name} http://127.0.0.1:${port}/metrics`).join('') +
        (webhook ? `, webhook http://127.0.0.1:${webhook.metricsPort}/metrics` : ''),
    )
    say(
      `  Redis     ${describeRedis({mode: 'standalone', url: redisUrl})}${options.redisUrl ? '' : ' (started here; append-only file in a temporary folder, removed at the end)'}  queue "${options.queue}"`,
    )
    say(
      webhook
        ? `  Webhook   ${webhook.url}/alerts  (bearer token: ${webhook.tokenFrom})`
        : '  Webhook   not started (set --telegram-token and --telegram-chat-ids to start it)',
    )

    // 5. The local imitation of KEDA.
    if (rule && options.autoscale) {
      const {Redis} = await import('ioredis')
      const reader = new Redis(redisOptions({mode: 'standalone', url: redisUrl}, {maxRetriesPerRequest: 1, lazyConnect: true}))
      reader.on('error', () => {}) // reported by the loop when a read fails
      closeReader = () => reader.disconnect()
      const workerNames = () => supervisor.list().filter((p) => p.name.startsWith('worker-') && !p.stopping)
      const restartingWorkers = () => [...pendingRestarts.keys()].filter((name) => name.startsWith('worker-'))
      say(
        `autoscale (a local imitation of KEDA, not a replacement): every ${options.autoscale.pollingIntervalMs / 1000} s, ` +
          `workers = ceil((LLEN bull:${options.queue}:wait + LLEN bull:${options.queue}:active) / ${rule.tasksPerReplica}) ` +
          `within [${rule.minReplicas}, ${rule.maxReplicas}]; scale-down held for a ${rule.scaleDownStabilizationMs / 1000} s stabilisation window` +
          (rule.minReplicas === 0 ? `, to zero after ${rule.cooldownMs / 1000} s idle (cooldown)` : ''),
      )
      loop = startAutoscalerLoop({
        rule,
        pollingIntervalMs: options.autoscale.pollingIntervalMs,
        initialReplicas: workerNames().length + restartingWorkers().length,
        read: async () => {
          const [waiting, active] = await Promise.all([reader.llen(`bull:${options.queue}:wait`), reader.llen(`bull:${options.queue}:active`)])
          return {waiting, active}
        },
        report: (line) => {
          devState?.decision(line)
          say(line)
        },
        async scaleTo(replicas) {
          if (stopSignal || crash) return
          desiredWorkers = replicas
          // A worker waiting for its restart counts: it is coming back.
          let live = workerNames()
          while (live.length + restartingWorkers().length < replicas) {
            const worker = await startWorker()
            say(`started ${worker.name} (pid ${worker.pid})`)
            live = workerNames()
          }
          let surplus = live.length + restartingWorkers().length - replicas
          // Fewer workers wanted: first drop restarts still waiting, then, like a ReplicaSet, remove
          // the newest first; SIGTERM lets each finish or hand back its task.
          for (const name of restartingWorkers().reverse()) {
            if (surplus <= 0) break
            clearTimeout(pendingRestarts.get(name))
            pendingRestarts.delete(name)
            specs.delete(name)
            say(`not restarting ${name}: fewer workers are wanted`)
            surplus--
          }
          for (const worker of live.slice(live.length - Math.max(0, surplus)).reverse()) {
            say(`stopping ${worker.name} (pid ${worker.pid}) with SIGTERM`)
            specs.delete(worker.name)
            void supervisor.stop(worker.name, graceMs).then(() => say(`${worker.name} stopped`))
          }
          // A stopping worker no longer counts (as a terminating pod is not ready): say so now.
          publish()
        },
      })
    }

    await woken
  } finally {
    publish = () => {}
    devState?.remove()
    await loop?.stop()
    closeReader?.()
    for (const timer of pendingRestarts.values()) clearTimeout(timer)
    pendingRestarts.clear()
    if (crash) {
      say(
        crash.restarts
          ? `${crash.name} (pid ${crash.pid}) exited unexpectedly again (${describeExit(crash.exit)}) after ${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s; stopping everything`
          : `${crash.name} (pid ${crash.pid}) exited unexpectedly (${describeExit(crash.exit)}); stopping everything`,
      )
    }
    const names = supervisor.list().map((p) => p.name)
    stopped = names
    // Workers and services first (they may need Redis to hand back their tasks), Redis last.
    await supervisor.stopAll(graceMs, (name) => name !== 'redis')
    unsubscribe()
    if (redisDir) rmSync(redisDir, {recursive: true, force: true})
    if (names.length > 0) say(`stopped ${names.join(', ')}`)
  }
  if (crash) {
    const what = crash.restarts
      ? `${crash.name} keeps exiting (${crash.restarts} restart(s) within ${RESTART_WINDOW_MS / 1000} s, last: ${describeExit(crash.exit)})`
      : `${crash.name} exited unexpectedly (${describeExit(crash.exit)})`
    throw new KedaLabError(`${what}, so keda-lab dev stopped everything`, {
      hint: `read the lines prefixed [${crash.name}] above, fix the cause, and run keda-lab dev again`,
    })
  }
  return {signal: stopSignal ?? 'SIGTERM', stopped}

  function startupError(name: string, reason: string): KedaLabError {
    if (crash)
      return new KedaLabError(`${crash.name} exited during start-up (${describeExit(crash.exit)})`, {
        hint: `read the lines prefixed [${crash.name}] above; fix the cause and run keda-lab dev again`,
      })
    return new KedaLabError(`${name} did not become ready: ${reason}`, {hint: `read the lines prefixed [${name}] above`})
  }
}

function autoscaleRule(a: NonNullable<DevOptions['autoscale']>): AutoscaleOptions {
  return {
    minReplicas: a.minWorkers,
    maxReplicas: a.maxWorkers,
    tasksPerReplica: a.tasksPerWorker,
    cooldownMs: a.cooldownMs,
    scaleDownStabilizationMs: a.stabilizationWindowMs,
  }
}

function baseEnv(options: DevOptions, redisUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...options.env}
  for (const key of NOT_INHERITED) delete env[key]
  env.REDIS_URL = redisUrl
  env.QUEUE_NAME = options.queue
  env.LOG_LEVEL = options.logLevel
  if (options.taskIterations !== undefined) env.TASK_ITERATIONS = String(options.taskIterations)
  return env
}

function serve(options: DevOptions, service: 'api' | 'worker' | 'webhook'): {command: string; args: string[]} {
  return {command: options.cli.command, args: [...options.cli.args, 'serve', service]}
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}

async function pingRedis(url: string): Promise<boolean> {
  const {Redis} = await import('ioredis')
  const client = new Redis(
    redisOptions({mode: 'standalone', url}, {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000}),
  )
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } finally {
    client.disconnect()
  }
}

async function checkRedis(url: string): Promise<void> {
  let reason = 'no answer'
  const ok = await pingRedis(url).catch((error: Error) => {
    reason = error.message
    return false
  })
  if (!ok) {
    throw new KedaLabError(`cannot reach Redis at ${describeRedis({mode: 'standalone', url})}: ${reason}`, {
      hint: 'check that it runs and the URL (and password) are right, or leave out --redis-url to start a local redis-server',
    })
  }
}
