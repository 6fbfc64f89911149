/**
 * `keda-lab dev`: the whole application on this machine, as child processes of this one. This
 * module runs it from start to stop; the pieces have their own modules: options.ts (what it is
 * given, checked), stack.ts (the children and their restarts), start.ts (start-up in order),
 * report.ts (what it tells), and the autoscaler (autoscaler.ts, autoscale-settings.ts).
 */
import {redisOptions} from '../../adapters/redis.js'
import {formatDevLine} from '../../ui/dev-log.js'
import type {AutoscaleOptions} from '../autoscale.js'
import {createDevStateFile, type DevStateFile} from '../../status/dev-state.js'
import {type AutoscalerLoop, startAutoscalerLoop} from './autoscaler.js'
import {describeAutoscale} from './autoscale-settings.js'
import {checkRedis, type RedisDataDir} from './local-redis.js'
import {type DevDeps, type DevOptions, type DevResult, validateDevOptions} from './options.js'
import {bannerLines, crashError, crashOf, describeCrash, devStateOf, reportQueued} from './report.js'
import {createStack, type Stack} from './stack.js'
import {claimApiPort, startLocalRedis, startServices} from './start.js'

export type {DevDeps, DevOptions, DevResult}

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
  const stack = createStack(options, deps, say, {workerMs: workerGraceMs, stopMs: graceMs})
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
  let stop: {stopped: string[]; discardedTasks?: number} = {stopped: []}
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
    stop = await stopInOrder(stack, redis, options.queue, graceMs)
    unsubscribe()
    unwatch?.()
    redis?.data?.remove()
    if (stop.stopped.length > 0) say(`stopped ${stop.stopped.join(', ')}`)
  }
  const reason = end.reason()
  const crash = crashOf(reason)
  if (crash) throw crashError(crash)
  const {stopped, discardedTasks} = stop
  return {signal: reason?.kind === 'signal' ? reason.signal : 'SIGTERM', stopped, ...(discardedTasks ? {discardedTasks} : {})}
}

/**
 * Stops every child: workers and services first (they may need Redis to hand back their tasks),
 * then counts what a Redis dev started still holds, then Redis; drops the restarts still waiting.
 * Returns the names that were running and how many queued tasks a temporary Redis discarded.
 */
async function stopInOrder(
  stack: Pick<Stack, 'supervisor' | 'say' | 'dispose'>,
  redis: {url: string; data?: RedisDataDir} | undefined,
  queue: string,
  graceMs: number,
): Promise<{stopped: string[]; discardedTasks?: number}> {
  const {supervisor} = stack
  const stopped = supervisor.list().map((p) => p.name)
  const beforeRedis = supervisor.list().filter((p) => p.name !== 'redis')
  await Promise.all(beforeRedis.map((p) => supervisor.stop(p.name, graceMs)))
  let discardedTasks: number | undefined
  if (redis?.data && supervisor.list().some((p) => p.name === 'redis')) discardedTasks = await reportQueued(redis, queue, stack.say)
  await supervisor.stopAll(graceMs)
  stack.dispose()
  return {stopped, discardedTasks}
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
