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
import {executorPlan, shardExecutor} from './executors.js'
import {startLoad} from './drivers.js'
import {createHttpClient} from './http.js'
import type {LoadSummary, ScalingFacts} from './records.js'
import {type LoadTestDeps, type LoadTestOptions, RunState} from './run-state.js'
import {scaledTiming} from './scenario.js'
import {SecondRecords} from './seconds.js'
import {summarise} from './summary.js'
import {aborted, pause} from './waits.js'

const NO_FACTS: ScalingFacts = {source: 'none', events: []}

/** Runs the load test; resolves with the summary of what ran (also when stopped early). */
export async function runLoadTest(options: LoadTestOptions, deps: LoadTestDeps = {}): Promise<LoadSummary> {
  const now = deps.now ?? (() => performance.now())
  const date = deps.date ?? (() => new Date())
  const shard = options.shard ?? {index: 0, count: 1}
  const config = shardExecutor(options.executor, shard)
  const plan = executorPlan(config)
  const http = deps.http ?? createHttpClient({url: options.target.url, connections: Math.max(1, Math.min(plan.maxVUs, 512))})
  const state = new RunState(http, now, scaledTiming(options.timeScale ?? 1), options.taskIterations)
  const {stopStarting, hardStop} = state

  const onSignal = () => state.stopByUser(options.stopGraceMs ?? 3000)
  if (deps.signal?.aborted) onSignal()
  else deps.signal?.addEventListener('abort', onSignal, {once: true})

  const records = new SecondRecords(
    state,
    {config, shard, date, sharded: options.shard !== undefined, thresholds: options.thresholds, abortOnFail: options.abortOnFail ?? false},
    deps,
  )
  // The baseline is read before the clock starts.
  await records.baseline()
  const startedAt = date()
  state.startClock()
  records.startTicker()

  // ---- the load ---------------------------------------------------------------------------
  const load = startLoad(state, config, shard)
  const timeUp = pause(plan.durationMs, stopStarting.signal).then(() => stopStarting.abort(new Error('time is up')))
  await Promise.race([load.starting, aborted(stopStarting.signal)])
  stopStarting.abort(new Error('done'))
  const startingEndedAt = now()
  // Iterations in flight get the executor's graceful stop (Ctrl-C shortens it, see RunState.stopByUser).
  const graceOver = pause(plan.gracefulStopMs, hardStop.signal).then(() => hardStop.abort(new Error('graceful stop is over')))
  await load.finished
  hardStop.abort(new Error('done'))
  await Promise.all([timeUp, graceOver])
  const loadEndedAt = now()
  state.loadEndedAt = loadEndedAt

  // ---- after the load: watch the system settle --------------------------------------------
  await records.stopTicker()
  state.clearCtrlCTimer()
  // The last (partial) second of load.
  records.emit()
  await records.watchSettling(options.watchAfterMs ?? 0)
  await records.flushed()
  deps.signal?.removeEventListener('abort', onSignal)
  if (deps.http === undefined) await http.close()

  return summarise(state, {
    options,
    config,
    shard,
    durationMs: plan.durationMs,
    startedAt,
    startingEndedAt,
    loadEndedAt,
    scalingFacts: deps.scalingFacts ?? (() => NO_FACTS),
    date,
  })
}
