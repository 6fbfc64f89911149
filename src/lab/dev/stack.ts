/**
 * The children of a `keda-lab dev` run and what keeps them: the supervisor, the restart of a child
 * that exits on its own (with the back-off of restarts.ts), the worker pool, and the one RunEnd
 * that says whether and why the run is ending.
 */
import {KedaLabError} from '../../errors.js'
import {formatChildLine} from '../../ui/dev-log.js'
import {shortenRedisLine} from './local-redis.js'
import {freePort} from './net.js'
import {baseEnv, type DevDeps, type DevOptions, serve} from './options.js'
import {createRestarts, MAX_RESTARTS, RESTART_WINDOW_MS, type Restarts} from './restarts.js'
import {createRunEnd, describeExit, type RunEnd} from './run-end.js'
import {createSupervisor, type ManagedProcess, type ProcessExit, type ProcessSpec, type Supervisor} from './supervisor.js'
import {createWorkerPool, type WorkerPool} from './workers.js'

/** The run's children, as `runDev` starts and restarts them. */
export interface Stack {
  supervisor: Supervisor
  workers: WorkerPool
  end: RunEnd
  say(line: string): void
  start(spec: ProcessSpec): Promise<ManagedProcess>
  /** Builds a KedaLabError for a child that did not become ready (or crashed while starting). */
  startupError(name: string, reason: string): KedaLabError
  /** The Redis every child is given (known once Redis runs, before the first service starts). */
  useRedis(url: string): void
  /** Everything started: from now on a child that exits on its own is restarted. */
  markRunning(): void
  /** Drops the restarts still waiting (the run is ending). */
  dispose(): void
}

/** How long a stopping child gets before SIGKILL. */
export interface StackGrace {
  /** What the worker is told it has to finish or hand back its task (WORKER_SHUTDOWN_GRACE_MS). */
  workerMs: number
  /** What dev waits for any child before SIGKILL (a margin over the worker's). */
  stopMs: number
}

/** The supervisor, its restarts and the worker pool, wired to one RunEnd. */
export function createStack(options: DevOptions, deps: Pick<DevDeps, 'print'>, say: (line: string) => void, grace: StackGrace): Stack {
  const end = createRunEnd()
  let redisUrl = ''
  const restarts = createRestarts()
  /** How each child was started, to restart it the same way. */
  const specs = new Map<string, ProcessSpec>()
  /** True once everything started: from then on a child that exits is restarted. */
  let running = false
  const supervisor = createSupervisor({
    onLine: (name, line) => deps.print(formatChildLine(name, name === 'redis' ? shortenRedisLine(line) : line, {color: options.color})),
    onUnexpectedExit: (child, exit) =>
      onChildExit(child, exit, {end, restarts, say, spec: running ? specs.get(child.name) : undefined, restart: (spec) => supervisor.start(spec)}),
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
    spec: (name, metricsPort) => workerSpec(options, {name, metricsPort, redisUrl, graceMs: grace.workerMs}),
    freePort,
    say,
    graceMs: grace.stopMs,
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
    startupError: (name, reason) => startupError(end, name, reason),
  }
}

/** What onChildExit needs from the run. */
export interface ChildExitContext {
  end: RunEnd
  restarts: Restarts
  say(line: string): void
  /** How the child was started, once everything runs (undefined during start-up: no restart then). */
  spec: ProcessSpec | undefined
  restart(spec: ProcessSpec): Promise<ManagedProcess>
  now?: () => number
}

/**
 * A child exited without being asked to. While the run is ending: nothing. During start-up, or
 * after too many restarts: the run stops with a crash naming it. Otherwise it is restarted the same
 * way after the back-off, saying so; a restart that cannot spawn stops the run too.
 */
export function onChildExit(child: ManagedProcess, exit: ProcessExit, ctx: ChildExitContext): void {
  const {end, restarts, say, spec} = ctx
  if (end.reason()) return
  if (!spec) {
    end.stop({kind: 'crash', crash: {name: child.name, pid: child.pid, exit}})
    return
  }
  const decision = restarts.decide(child.name, (ctx.now ?? Date.now)())
  if (!decision.restart) {
    end.stop({kind: 'crash', crash: {name: child.name, pid: child.pid, exit, restarts: decision.restarts}})
    return
  }
  say(restartLine(child, exit, decision.delayMs, decision.attempt))
  restarts.schedule(child.name, decision.delayMs, () => {
    if (end.reason()) return
    ctx.restart(spec).then(
      (restarted) => say(`restarted ${restarted.name} (pid ${restarted.pid})`),
      (error: Error) => {
        say(`cannot restart ${child.name}: ${error.message}`)
        end.stop({kind: 'crash', crash: {name: child.name, pid: child.pid, exit, restarts: decision.attempt}})
      },
    )
  })
}

/** How a worker is started: this CLI's `serve worker`, on the run's Redis, with its own metrics port and name. */
export function workerSpec(options: DevOptions, worker: {name: string; metricsPort: number; redisUrl: string; graceMs: number}): ProcessSpec {
  return {
    name: worker.name,
    ...serve(options, 'worker'),
    env: {
      ...baseEnv(options),
      REDIS_URL: worker.redisUrl,
      METRICS_HOST: '127.0.0.1',
      METRICS_PORT: String(worker.metricsPort),
      WORKER_SHUTDOWN_GRACE_MS: String(worker.graceMs),
      WORKER_NAME: worker.name,
    },
  }
}

/** A child that did not become ready: the crash that ended start-up if there was one, else the reason it gave. */
export function startupError(end: Pick<RunEnd, 'reason'>, name: string, reason: string): KedaLabError {
  const stop = end.reason()
  if (stop?.kind === 'crash') {
    const c = stop.crash
    return new KedaLabError(`${c.name} exited during start-up (${describeExit(c.exit)})`, {
      hint: `read the lines prefixed [${c.name}] above; fix the cause and run keda-lab dev again`,
    })
  }
  return new KedaLabError(`${name} did not become ready: ${reason}`, {hint: `read the lines prefixed [${name}] above`})
}

/** The line said when a child is restarted: why, when, and how many restarts are left. */
export function restartLine(child: Pick<ManagedProcess, 'name' | 'pid'>, exit: ProcessExit, delayMs: number, attempt: number): string {
  return (
    `${child.name} (pid ${child.pid}) exited unexpectedly (${describeExit(exit)}); restarting it` +
    (delayMs > 0 ? ` in ${delayMs / 1000} s` : '') +
    ` (restart ${attempt} of at most ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 1000} s)` +
    (child.name === 'redis' ? '; the API answers 503 until Redis is back' : '')
  )
}
