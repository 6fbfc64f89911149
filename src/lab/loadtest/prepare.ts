/**
 * Everything `keda-lab loadtest` checks before any request (the load, thresholds, shard, task size,
 * watch and stop times), shared by the local run, the cluster run and the k6 export. Its own module
 * so that those can use it without importing the command that dispatches to them.
 */
import {readFileSync} from 'node:fs'

import {KedaLabError} from '../../errors.js'
import {MAX_TASK_ITERATIONS} from '../../services/shared/tasks.js'
import {parseDuration} from './durations.js'
import {executorPlan, type Shard, shardExecutor} from './executors.js'
import {type LoadFlags, resolveLoad} from './profiles.js'
import type {TargetOptions} from './target.js'
import {parseThreshold, type Threshold} from './thresholds.js'

export interface LoadTestCommandOptions extends LoadFlags {
  thresholds: string[]
  abortOnFail: boolean
  taskIterations?: number
  /** `--shard i/N`. */
  shard?: string
  /** `--watch-after`: how long to keep watching the scaling after the load (default 2m, ends early once settled). */
  watchAfter?: string
  /** `--stop-grace`: after Ctrl-C, how long iterations in flight get (default 3s). */
  stopGrace?: string
  target: TargetOptions
  version: string
}

/** `--shard i/N`: 0 ≤ i < N. */
function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim())
  const index = Number(match?.[1])
  const count = Number(match?.[2])
  if (!match || count < 1 || index >= count)
    throw new KedaLabError(`--shard ${text} is not INDEX/COUNT with 0 ≤ INDEX < COUNT`, {
      hint: 'e.g. --shard 0/4 runs the first quarter of the load',
      exitCode: 2,
    })
  return {index, count}
}

/** Everything checked before any request: the load, thresholds, shard, task size, watch time. */
export function prepareLoadTest(options: LoadTestCommandOptions, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')) {
  const load = resolveLoad(options, readFile)
  const thresholds: Threshold[] = options.thresholds.map(parseThreshold)
  const shard = options.shard === undefined ? undefined : parseShard(options.shard)
  const taskIterations = options.taskIterations ?? load.taskIterations
  if (taskIterations !== undefined && (!Number.isInteger(taskIterations) || taskIterations < 0 || taskIterations > MAX_TASK_ITERATIONS))
    throw new KedaLabError(`task size ${taskIterations} is out of range`, {hint: `pass --task-iterations between 0 and ${MAX_TASK_ITERATIONS}`, exitCode: 2})
  const watchAfterMs = options.watchAfter === undefined ? 120_000 : parseDuration(options.watchAfter)
  if (watchAfterMs === undefined)
    throw new KedaLabError(`--watch-after ${options.watchAfter} is not a duration`, {
      hint: 'e.g. --watch-after 2m, or --watch-after 0 not to wait',
      exitCode: 2,
    })
  const stopGraceMs = options.stopGrace === undefined ? 3000 : parseDuration(options.stopGrace)
  if (stopGraceMs === undefined) throw new KedaLabError(`--stop-grace ${options.stopGrace} is not a duration`, {hint: 'e.g. --stop-grace 10s', exitCode: 2})
  const executor = shard ? shardExecutor(load.executor, shard) : load.executor
  const plan = executorPlan(executor)
  // Known length for the live view's "0:42 / 2:00"; iteration-based runs end when they are done.
  const plannedS = plan.iterations === undefined ? Math.ceil(plan.durationMs / 1000) : undefined
  return {load, thresholds, shard, taskIterations, watchAfterMs, stopGraceMs, plannedS}
}
