/**
 * The run's `LoadSummary`, built from its state (run-state.ts) once the load and the watch after it
 * are over: counts, latencies, the rate asked and achieved (open model), thresholds, histograms.
 */
import {type ExecutorConfig, isOpenModel, type Shard} from './executors.js'
import type {LoadSummary, ScalingFacts, Step} from './records.js'
import type {LoadTestOptions, RunState} from './run-state.js'
import {iterationsDueBy} from './schedule.js'
import {evaluateThreshold} from './thresholds.js'

/** The exit codes of a run. */
const LOADTEST_EXIT = {ok: 0, thresholds: 99, interrupted: 130} as const

/** What the summary reads of the run besides its state. */
export interface SummaryRun {
  options: LoadTestOptions
  /** This process's slice of the executor. */
  config: ExecutorConfig
  shard: Shard
  /** How long the executor's schedule runs. */
  durationMs: number
  startedAt: Date
  /** When the last iteration started (or would have). */
  startingEndedAt: number
  /** When the last iteration ended. */
  loadEndedAt: number
  scalingFacts: () => ScalingFacts
  date: () => Date
}

/** The summary of what ran (also when stopped early). */
export function summarise(state: RunState, run: SummaryRun): LoadSummary {
  const {metrics, interrupted, abortedBy, t0} = state
  const {options, config, durationMs} = run
  const open = isOpenModel(config)
  const endedAt = run.date()
  // The time the schedule ran: all of it, unless the run was stopped before its end.
  const windowMs = interrupted ? Math.min(run.startingEndedAt - t0, durationMs) : durationMs
  const rate =
    open && windowMs > 0
      ? {
          asked: round(iterationsDueBy(config, windowMs) / run.shard.count / (windowMs / 1000), 4),
          achieved: round(metrics.iterations.started / (windowMs / 1000), 4),
        }
      : undefined
  const scaling = run.scalingFacts()
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
    startedAt: run.startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationS: round((state.now() - t0) / 1000, 3),
    loadDurationS: round((run.loadEndedAt - t0) / 1000, 3),
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
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits
