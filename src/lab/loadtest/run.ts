/**
 * The engine: runs any executor (executors.ts) of the lab's scenario (scenario.ts) against one
 * target, emits one `SecondRecord` a second to whoever listens (the live view, the progress lines,
 * the report's time series) and ends with a `LoadSummary`. Every I/O edge is passed in: the HTTP
 * client, the clock, the scaling sampler, the scaling facts, the stop signal (Ctrl-C).
 *
 * Stopping: when the executor's time is up (or Ctrl-C, or --abort-on-fail), no iteration starts any
 * more; those in flight get the executor's gracefulStop (after Ctrl-C, `stopGraceMs`) to finish,
 * then are interrupted. What ran is always summarised.
 */
import {setImmediate as nextTurn} from 'node:timers/promises'

import {onAbort} from './abort.js'
import {type ExecutorConfig, executorPlan, isOpenModel, type RampingVus, rateAt, type Shard, shardExecutor, stageLabel, vusAt} from './executors.js'
import {createHttpClient, type HttpClient} from './http.js'
import {RunMetrics} from './metrics.js'
import type {LoadSummary, ScalingFacts, ScalingSample, SecondRecord, Step, ThresholdResult} from './records.js'
import {runIteration, type ScenarioTiming, scaledTiming} from './scenario.js'
import {arrivalSchedule, iterationsDueBy} from './schedule.js'
import {evaluateThreshold, firstLiveFailure, type Threshold} from './thresholds.js'

/** The exit codes of a run. */
const LOADTEST_EXIT = {ok: 0, thresholds: 99, interrupted: 130} as const

export interface LoadTestOptions {
  /** The profile's name ("custom", a file's name). */
  profile: string
  /** The whole run's executor; with `shard`, this process runs its slice. */
  executor: ExecutorConfig
  target: LoadSummary['target']
  shard?: Shard
  /** Task size: the typed route `POST /api/tasks {iterations}`; undefined: the original route. */
  taskIterations?: number
  thresholds: readonly Threshold[]
  abortOnFail?: boolean
  /** Scales the scenario's 2 s sleep and 1 s polls along with the profile (`--time-scale`). */
  timeScale?: number
  /**
   * After the load, keep sampling (and emitting records) this long, or until `settled()` says the
   * system is back at rest: scale-down is part of what the lab is for.
   */
  watchAfterMs?: number
  /** After Ctrl-C, how long iterations in flight get to finish (default 3 s). */
  stopGraceMs?: number
  /** keda-lab's version, for the summary. */
  version: string
}

export interface LoadTestDeps {
  /** The HTTP client (default: http.ts, one pool of keep-alive connections to the target). */
  http?: HttpClient
  /** Each second of the run, in order. */
  onRecord?: (record: SecondRecord) => void
  /** Called once a second; its answer goes in the record's `scaling`. */
  sample?: () => Promise<ScalingSample | undefined>
  /** The summary's scaling facts, asked once at the end (after the last record). */
  scalingFacts?: () => ScalingFacts
  /** During `watchAfterMs`: true once there is nothing more to watch (queue empty, workers back). */
  settled?: () => boolean
  /** Aborted on Ctrl-C: stop starting, wait briefly, summarise. */
  signal?: AbortSignal
  /** Monotonic milliseconds (default performance.now). */
  now?: () => number
  date?: () => Date
}

const NO_FACTS: ScalingFacts = {source: 'none', events: []}

/** Waits `ms` or until `signal` aborts (never rejects). */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve()
      return
    }
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), {once: true})))

/** Runs the load test; resolves with the summary of what ran (also when stopped early). */
export async function runLoadTest(options: LoadTestOptions, deps: LoadTestDeps = {}): Promise<LoadSummary> {
  const now = deps.now ?? (() => performance.now())
  const date = deps.date ?? (() => new Date())
  const shard = options.shard ?? {index: 0, count: 1}
  const config = shardExecutor(options.executor, shard)
  const plan = executorPlan(config)
  const open = isOpenModel(config)
  const timing: ScenarioTiming = scaledTiming(options.timeScale ?? 1)
  const http = deps.http ?? createHttpClient({url: options.target.url, connections: Math.max(1, Math.min(plan.maxVUs, 512))})
  const ownsHttp = deps.http === undefined
  const metrics = new RunMetrics()

  /** No new iteration starts once this aborts. */
  const stopStarting = new AbortController()
  /** Iterations in flight are interrupted once this aborts. */
  const hardStop = new AbortController()
  let interrupted = false
  let abortedBy: ThresholdResult | undefined
  let ctrlCTimer: NodeJS.Timeout | undefined
  const onSignal = () => {
    interrupted = true
    stopStarting.abort(new Error('stopped (Ctrl-C)'))
    // Whatever grace the executor gives, after Ctrl-C the iterations in flight get only a short one.
    ctrlCTimer = setTimeout(() => hardStop.abort(new Error('stopped (Ctrl-C)')), options.stopGraceMs ?? 3000)
  }
  if (deps.signal?.aborted) onSignal()
  else deps.signal?.addEventListener('abort', onSignal, {once: true})

  // A record's scaling sample is the one taken as its second began: record 0 carries the state
  // before the first request (the baseline the scaling facts start from), and each later sample
  // is still one second apart.
  const takeSample = () => (deps.sample ? withTimeout(deps.sample(), 2000) : Promise.resolve(undefined))
  // The baseline is read before the clock starts.
  let nextSample = takeSample()
  await nextSample
  const startedAt = date()
  const t0 = now()
  let inFlight = 0
  let activeVUs = 0
  let loadEndedAt: number | undefined

  /**
   * One iteration, interrupted when `signal` aborts: the run's hard stop itself, shared by every
   * iteration (no controller or listener per iteration), or for a ramping VU its own controller
   * that the hard stop also aborts.
   */
  const iterate = async (scheduledAt: number, signal: AbortSignal = hardStop.signal): Promise<void> => {
    inFlight++
    try {
      const outcome = await runIteration({http, metrics, signal, scheduledAt, now, timing, taskIterations: options.taskIterations})
      metrics.iterationEnded(outcome)
    } finally {
      inFlight--
    }
  }

  // ---- the per-second records -------------------------------------------------------------
  let second = 0
  let emitting: Promise<void> = Promise.resolve()
  const emitSecond = () => {
    const t = second++
    // A shard's seconds carry their histograms: the coordinator merges them exactly.
    const counts = metrics.takeSecond(open, options.shard !== undefined)
    const tMs = (t + 0.5) * 1000
    const record: SecondRecord = {
      t,
      at: date().toISOString(),
      ...(loadEndedAt === undefined && stageLabel(config, tMs) ? {stage: stageLabel(config, tMs)} : {}),
      vus: open ? inFlight : activeVUs,
      ...(open ? {targetRate: loadEndedAt === undefined ? rateAt(config, tMs) / shard.count : 0} : {}),
      ...counts,
    }
    const sampled = nextSample
    nextSample = takeSample()
    emitting = emitting.then(async () => {
      const scaling = await sampled
      if (scaling) record.scaling = scaling
      deps.onRecord?.(record)
    })
    if (options.abortOnFail && !abortedBy) {
      const failure = firstLiveFailure(options.thresholds, metrics.view())
      if (failure) {
        abortedBy = failure
        interrupted = true
        stopStarting.abort(new Error(`threshold ${failure.expression} failed`))
        hardStop.abort(new Error(`threshold ${failure.expression} failed`))
      }
    }
  }
  const tickerStop = new AbortController()
  const ticker = (async () => {
    while (!tickerStop.signal.aborted) {
      const next = t0 + (second + 1) * 1000
      await pause(next - now(), tickerStop.signal)
      if (tickerStop.signal.aborted) break
      emitSecond()
    }
  })()

  // ---- the load ---------------------------------------------------------------------------
  const load = open ? runOpen(config, shard) : runClosed(config)
  const timeUp = pause(plan.durationMs, stopStarting.signal).then(() => stopStarting.abort(new Error('time is up')))
  await Promise.race([load.starting, aborted(stopStarting.signal)])
  stopStarting.abort(new Error('done'))
  const startingEndedAt = now()
  // Iterations in flight get the executor's graceful stop (Ctrl-C shortens it, see onSignal).
  const graceOver = pause(plan.gracefulStopMs, hardStop.signal).then(() => hardStop.abort(new Error('graceful stop is over')))
  await load.finished
  hardStop.abort(new Error('done'))
  await Promise.all([timeUp, graceOver])
  loadEndedAt = now()

  // ---- after the load: watch the system settle --------------------------------------------
  tickerStop.abort()
  await ticker
  clearTimeout(ctrlCTimer)
  // The last (partial) second of load.
  emitSecond()
  const watchMs = options.watchAfterMs ?? 0
  if (watchMs > 0 && deps.sample && !deps.signal?.aborted) {
    const watchStop = new AbortController()
    const onStop = () => watchStop.abort()
    deps.signal?.addEventListener('abort', onStop, {once: true})
    const until = now() + watchMs
    while (now() < until && !watchStop.signal.aborted && !deps.settled?.()) {
      await pause(Math.min(1000, until - now()), watchStop.signal)
      if (watchStop.signal.aborted) break
      emitSecond()
      await emitting
    }
    deps.signal?.removeEventListener('abort', onStop)
  }
  await emitting
  deps.signal?.removeEventListener('abort', onSignal)
  if (ownsHttp) await http.close()

  // ---- the summary ------------------------------------------------------------------------
  const endedAt = date()
  // The time the schedule ran: all of it, unless the run was stopped before its end.
  const windowMs = interrupted ? Math.min(startingEndedAt - t0, plan.durationMs) : plan.durationMs
  const rate =
    open && windowMs > 0
      ? {
          asked: round(iterationsDueBy(config, windowMs) / shard.count / (windowMs / 1000), 4),
          achieved: round(metrics.iterations.started / (windowMs / 1000), 4),
        }
      : undefined
  const scaling = deps.scalingFacts?.() ?? NO_FACTS
  const view = {...metrics.view(), rate, scaling}
  const thresholds = options.thresholds.map((t) => (abortedBy && abortedBy.expression === t.expression ? abortedBy : evaluateThreshold(t, view)))
  const failed = thresholds.some((t) => !t.ok)
  const latency: LoadSummary['latency'] = {}
  const latencyFromSend: LoadSummary['latencyFromSend'] = {}
  for (const step of ['add', 'status'] as Step[]) {
    if (metrics.latency[step].count > 0) latency[step] = metrics.latency[step].stats()
    if (metrics.latencyFromSend[step].count > 0) latencyFromSend[step] = metrics.latencyFromSend[step].stats()
  }
  if (metrics.task.count > 0) latency.task = metrics.task.stats()
  const {interrupted: interruptedIterations, ...iterationCounts} = metrics.iterations
  return {
    schemaVersion: 1,
    tool: {name: 'keda-lab', version: options.version},
    profile: options.profile,
    executor: {...config},
    target: options.target,
    ...(options.shard ? {shard: options.shard} : {}),
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationS: round((now() - t0) / 1000, 3),
    loadDurationS: round((loadEndedAt - t0) / 1000, 3),
    interrupted,
    ...(abortedBy ? {abortedBy: abortedBy.expression} : {}),
    iterations: {...iterationCounts, interrupted: interruptedIterations},
    ...(rate ? {rate} : {}),
    requests: {...metrics.requests},
    errors: metrics.errors,
    latency,
    latencyFromSend,
    ...(metrics.taskElapsed.count > 0 ? {taskTimeElapsed: metrics.taskElapsed.stats()} : {}),
    ...(open ? {schedulerLag: metrics.lag.stats()} : {}),
    checks: Object.fromEntries(metrics.checks),
    thresholds,
    tasks: {...metrics.tasks},
    scaling,
    histograms: {
      add: metrics.latency.add.encode(),
      status: metrics.latency.status.encode(),
      task: metrics.task.encode(),
      'task.elapsed': metrics.taskElapsed.encode(),
      'add.fromSend': metrics.latencyFromSend.add.encode(),
      'status.fromSend': metrics.latencyFromSend.status.encode(),
      lag: metrics.lag.encode(),
    },
    exitCode: failed ? LOADTEST_EXIT.thresholds : interrupted ? LOADTEST_EXIT.interrupted : LOADTEST_EXIT.ok,
  }

  // ---- executors ----------------------------------------------------------------------------

  /** `starting` settles when no more iterations will start; `finished` when the last one ended. */
  function runClosed(c: Exclude<ExecutorConfig, {type: 'constant-arrival-rate' | 'ramping-arrival-rate'}>): {starting: Promise<void>; finished: Promise<void>} {
    const stop = stopStarting.signal
    const vuLoop = async (more: () => boolean) => {
      activeVUs++
      try {
        while (!stop.aborted && more()) await iterate(now())
      } finally {
        activeVUs--
      }
    }
    if (c.type === 'ramping-vus') return runRamping(c)
    let loops: Promise<void>[]
    if (c.type === 'shared-iterations') {
      let left = c.iterations
      const take = () => {
        if (left <= 0) return false
        left--
        metrics.iterationStarted()
        return true
      }
      loops = Array.from({length: Math.min(c.vus, c.iterations)}, () => vuLoop(take))
    } else if (c.type === 'per-vu-iterations') {
      loops = Array.from({length: c.vus}, () => {
        let left = c.iterations
        return vuLoop(() => {
          if (left <= 0) return false
          left--
          metrics.iterationStarted()
          return true
        })
      })
    } else {
      loops = Array.from({length: c.vus}, () =>
        vuLoop(() => {
          metrics.iterationStarted()
          return true
        }),
      )
    }
    const all = Promise.all(loops).then(() => undefined)
    // Iteration-based executors stop starting when the iterations are all taken; the loops'
    // end is also when the last iteration finished.
    return {starting: all, finished: all}
  }

  /**
   * Ramping VUs: VU i runs while i < the wanted count. A VU no longer wanted starts nothing new
   * and gets gracefulRampDown to finish its iteration (0: interrupted at once).
   */
  function runRamping(c: RampingVus): {starting: Promise<void>; finished: Promise<void>} {
    const stop = stopStarting.signal
    let wanted = vusAt(c, 0)
    const vus: {running?: AbortController; rampDownTimer?: NodeJS.Timeout; loop: Promise<void>}[] = []
    let changed: {promise: Promise<void>; resolve: () => void} = deferred()
    const loop = async (i: number) => {
      const vu = vus[i] as (typeof vus)[number]
      while (!stop.aborted) {
        if (i >= wanted) {
          await Promise.race([changed.promise, aborted(stop)])
          continue
        }
        activeVUs++
        metrics.iterationStarted()
        const own = new AbortController()
        const forget = onAbort(hardStop.signal, () => own.abort(hardStop.signal.reason))
        vu.running = own
        try {
          await iterate(now(), own.signal)
        } finally {
          forget()
          vu.running = undefined
          clearTimeout(vu.rampDownTimer)
          vu.rampDownTimer = undefined
          activeVUs--
        }
      }
    }
    const grow = () => {
      while (vus.length < wanted) {
        const i = vus.length
        vus.push({loop: Promise.resolve()})
        ;(vus[i] as (typeof vus)[number]).loop = loop(i)
      }
    }
    const update = () => {
      const next = vusAt(c, now() - t0)
      if (next !== wanted) {
        wanted = next
        grow()
        for (const [i, vu] of vus.entries()) {
          if (i >= wanted && vu.running && !vu.rampDownTimer) {
            const running = vu.running
            vu.rampDownTimer = setTimeout(() => running.abort(new Error('ramped down')), c.gracefulRampDownMs)
          } else if (i < wanted && vu.rampDownTimer) {
            clearTimeout(vu.rampDownTimer)
            vu.rampDownTimer = undefined
          }
        }
        const previous = changed
        changed = deferred()
        previous.resolve()
      }
    }
    grow()
    const driver = (async () => {
      // The wanted count is re-read 20 times a second: fine enough for ramps of seconds.
      while (!stop.aborted) {
        await pause(50, stop)
        update()
      }
      changed.resolve()
    })()
    const finished = driver.then(() => Promise.all(vus.map((v) => v.loop))).then(() => undefined)
    return {starting: aborted(stop), finished}
  }

  /**
   * The open model: starts on the absolute schedule, drops what --max-vus cannot hold. Each turn of
   * the loop starts every iteration due by now (their lag is now minus their due time), then sleeps
   * on a timer until the next one is due (whole milliseconds: above 1,000/s a tick starts every
   * iteration of its millisecond, each late by less than a tick). Far behind schedule, starting
   * stops after BURST_MS to let the responses in, and goes on at the next turn: no fixed batch size.
   */
  function runOpen(
    c: Extract<ExecutorConfig, {type: 'constant-arrival-rate' | 'ramping-arrival-rate'}>,
    s: Shard,
  ): {starting: Promise<void>; finished: Promise<void>} {
    const stop = stopStarting.signal
    let running = 0
    let failure: unknown
    let idle: (() => void) | undefined
    const start = (dueAt: number, at: number) => {
      if (inFlight >= c.maxVUs) {
        metrics.dropped()
        return
      }
      metrics.iterationStarted(at - dueAt)
      running++
      iterate(dueAt).then(ended, (error: unknown) => {
        failure ??= error
        ended()
      })
    }
    const ended = () => {
      if (--running === 0) idle?.()
    }
    const starting = (async () => {
      const schedule = arrivalSchedule(c, s)
      let due = schedule.next()
      while (due !== undefined && !stop.aborted) {
        const wait = t0 + due - now()
        if (wait > 0) {
          // A timer, never a spin: a loop of setImmediate waiting out the last millisecond kept a
          // core busy at any rate above ~500/s, taken from the target on the same machine.
          await pause(Math.ceil(wait), stop)
          continue
        }
        const turnStarted = now()
        let at = turnStarted
        do {
          start(t0 + due, at)
          due = schedule.next()
          at = now()
        } while (due !== undefined && t0 + due <= at && at - turnStarted < BURST_MS)
        if (due !== undefined && t0 + due <= at) await nextTurn()
      }
    })()
    const finished = starting.then(async () => {
      if (running > 0) await new Promise<void>((resolve) => (idle = resolve))
      if (failure !== undefined) throw failure
    })
    return {starting, finished}
  }
}

/** Far behind schedule, the open model starts iterations for at most this long before letting I/O in. */
const BURST_MS = 5

function deferred(): {promise: Promise<void>; resolve: () => void} {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return {promise, resolve}
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      },
    )
  })
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits
